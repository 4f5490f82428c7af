"""PPO and DQN: Stable-Baselines3 against ml-rl in one run.

    bash scripts/setup-python.sh sb3      # .venv-sb3: stable-baselines3, torch (a few GB)
    .venv-sb3/bin/python benches/compare_rl_agents.py [RUN ...] [--seeds 0,1,2] [--threads N]

A RUN is ALGO:ENV:STEPS (default: ppo:CartPole-v1:100000,
dqn:CartPole-v1:50000, ppo:Pendulum-v1:200000). Both sides train with the
same hyper-parameters, rl-baselines3-zoo's tuned ones as ml-rl's
`PpoConfig::tuned` and `DqnConfig::default` hold them (Pendulum without the
zoo's state-dependent exploration, which ml-rl does not have; DQN keeps the
best of the greedy policies evaluated every 2,500 steps on 10 episodes,
SB3's `EvalCallback`), then evaluate 100 deterministic episodes at seeds
10000-10099. Prints mean return and wall time per seed, and the ratio of
wall times. ml-rl runs its `agent` example in release mode.
"""
import argparse
import json
import pathlib
import subprocess
import tempfile
import time

import gymnasium as gym
import numpy as np
import stable_baselines3 as sb3
import torch

from timing import release_dir
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVAL_SEED = 10_000


def linear(start):
    return lambda progress: progress * start


def sb3_model(algo, env_id, seed):
    if algo == "ppo" and env_id in ("Pendulum-v1", "MountainCarContinuous-v0"):
        env = make_vec_env(env_id, n_envs=4, seed=seed)
        return sb3.PPO("MlpPolicy", env, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95,
                       learning_rate=1e-3, clip_range=0.2, ent_coef=0.0, max_grad_norm=0.5,
                       policy_kwargs={"log_std_init": -0.5}, seed=seed, device="cpu"), None
    if algo == "ppo":
        env = make_vec_env(env_id, n_envs=8, seed=seed)
        return sb3.PPO("MlpPolicy", env, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                       learning_rate=linear(1e-3), clip_range=0.2, ent_coef=0.0, max_grad_norm=0.5, seed=seed,
                       device="cpu"), None
    env = make_vec_env(env_id, n_envs=1, seed=seed)
    model = sb3.DQN("MlpPolicy", env, learning_rate=2.3e-3, buffer_size=100_000, learning_starts=1000,
                    batch_size=64, gamma=0.99, train_freq=256, gradient_steps=128, target_update_interval=10,
                    exploration_fraction=0.16, exploration_final_eps=0.04, max_grad_norm=10,
                    policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu")
    return model, make_vec_env(env_id, n_envs=1, seed=1_000_000 + 1000 * seed)


def evaluate(model, env_id, episodes=100):
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, term, trunc, _ = env.step(action)
            total += float(reward)
            done = term or trunc
        returns.append(total)
    return float(np.mean(returns))


def run_sb3(algo, env_id, steps, seed):
    model, eval_env = sb3_model(algo, env_id, seed)
    started = time.perf_counter()
    if eval_env is None:
        model.learn(total_timesteps=steps)
    else:
        with tempfile.TemporaryDirectory() as best:
            model.learn(total_timesteps=steps, callback=EvalCallback(
                eval_env, eval_freq=2_500, n_eval_episodes=10, best_model_save_path=best, verbose=0))
            seconds = time.perf_counter() - started
            model = sb3.DQN.load(pathlib.Path(best) / "best_model", device="cpu")
            return evaluate(model, env_id), seconds
    seconds = time.perf_counter() - started
    return evaluate(model, env_id), seconds


def run_ours(binary, algo, env_id, steps, seed):
    out = subprocess.run([str(binary), algo, env_id, str(steps), str(seed)], check=True, capture_output=True,
                         text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["mean_return"], result["seconds"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="*",
                        default=["ppo:CartPole-v1:100000", "dqn:CartPole-v1:50000", "ppo:Pendulum-v1:200000"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ml-rl", "--example", "agent"], cwd=ROOT,
                   check=True)
    binary = release_dir() / "examples" / "agent"
    print(f"stable-baselines3 {sb3.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"gymnasium {gym.__version__}")
    print("| algorithm | environment | steps | seed | SB3 mean return | ml-rl mean return | SB3 s | ml-rl s | "
          "time ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in args.runs:
        algo, env_id, steps = run.split(":")
        for seed in map(int, args.seeds.split(",")):
            theirs, their_s = run_sb3(algo, env_id, int(steps), seed)
            ours, our_s = run_ours(binary, algo, env_id, int(steps), seed)
            print(f"| {algo.upper()} | {env_id} | {int(steps):,} | {seed} | {theirs:.1f} | {ours:.1f} | "
                  f"{their_s:.1f} | {our_s:.1f} | {their_s / our_s:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
