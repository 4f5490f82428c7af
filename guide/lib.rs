//! The ml-sdk guide: one chapter per Python tool, its API next to ours.
//! The book is `guide/src` (`mdbook build guide`); each chapter is also a
//! module's documentation here, so `cargo test -p ml-sdk-guide` compiles
//! and runs every snippet in it.
#![doc = include_str!("src/introduction.md")]

macro_rules! chapter {
    ($name:ident, $file:literal) => {
        #[doc = include_str!($file)]
        pub mod $name {}
    };
}

chapter!(scikit_learn, "src/scikit-learn.md");
chapter!(keras_pytorch, "src/keras-pytorch.md");
chapter!(rllib, "src/rllib.md");
chapter!(opendp, "src/opendp.md");
chapter!(shap_interpretml, "src/shap-interpretml.md");
chapter!(fairlearn, "src/fairlearn.md");
chapter!(onnx_runtime, "src/onnx-runtime.md");
chapter!(seal, "src/seal.md");
chapter!(mlflow, "src/mlflow.md");
chapter!(tensorboard, "src/tensorboard.md");
chapter!(triton_kserve, "src/triton-kserve.md");
