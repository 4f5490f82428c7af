//! The CSV reader on arbitrary bytes, within small limits so that the
//! bounds are exercised too, then every way a frame is used: inferring
//! column kinds, building a data set with the first column as target, and
//! encoding it as a model's inputs. Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::{Frame, LoadOptions, ReadLimits, UnknownCategory};

fuzz_target!(|data: &[u8]| {
    let limits = ReadLimits {
        max_bytes: 1 << 16,
        max_line_bytes: 4096,
        max_field_bytes: 512,
        max_columns: 256,
    };
    let Ok(frame) = Frame::from_csv_reader_with(data, &limits) else {
        return;
    };
    for name in frame.names() {
        let _ = frame.infer_kind(name);
        let _ = frame.numeric_column(name);
    }
    let target = frame.names().first().cloned();
    if let Ok(ds) = frame.to_dataset(&LoadOptions {
        target,
        ..LoadOptions::default()
    }) {
        let _ = frame.encode(ds.columns(), UnknownCategory::Error);
        let _ = frame.encode(ds.columns(), UnknownCategory::Ignore);
    }
});
