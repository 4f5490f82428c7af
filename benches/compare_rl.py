"""Environment throughput: Gymnasium against ml-rl in one run.

    .venv-rl/bin/python benches/compare_rl.py [ENV] [STEPS]

Steps CartPole-v1 (or ENV) with random actions drawn beforehand, resetting
when an episode ends: one environment, then Gymnasium's SyncVectorEnv of 8
against ml-rl's SyncVectorEnv and ThreadVectorEnv (8 environments on 2
threads). Builds and runs ml-rl's `env_throughput` example in release mode,
prints steps a second and the ratio (the issue's target: at least 20x).
"""
import json
import pathlib
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

from timing import release_dir

ROOT = pathlib.Path(__file__).resolve().parent.parent


def gymnasium_rates(env_id, steps):
    env = gym.make(env_id)
    actions = [env.action_space.sample() for _ in range(4096)]
    env.reset(seed=0)
    t = time.perf_counter()
    for i in range(steps):
        _, _, term, trunc, _ = env.step(actions[i % 4096])
        if term or trunc:
            env.reset()
    single = steps / (time.perf_counter() - t)
    n = 8
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)])
    envs.reset(seed=0)
    batches = [envs.action_space.sample() for _ in range(512)]
    rounds = steps // n
    t = time.perf_counter()
    for r in range(rounds):
        envs.step(batches[r % 512])
    vector = rounds * n / (time.perf_counter() - t)
    return {"single": single, "sync_vector_8": vector}


def main():
    env_id = sys.argv[1] if len(sys.argv) > 1 else "CartPole-v1"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ml-rl", "--example", "env_throughput"], cwd=ROOT,
                   check=True)
    ours = subprocess.run([str(release_dir() / "examples" / "env_throughput"), env_id, str(steps * 5)],
                          check=True, capture_output=True, text=True).stdout
    rust = {r["setting"]: r["steps_per_second"] for r in map(json.loads, ours.splitlines())}
    py = gymnasium_rates(env_id, steps)
    print(f"{env_id}, gymnasium {gym.__version__}, numpy {np.__version__}")
    print("| setting | gymnasium steps/s | ml-rl steps/s | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| one environment | {py['single']:,.0f} | {rust['single']:,.0f} | {rust['single'] / py['single']:.1f}x |")
    for name in ["sync_vector_8", "thread_vector_8_on_2"]:
        print(f"| {name} (gymnasium: SyncVectorEnv of 8) | {py['sync_vector_8']:,.0f} | {rust[name]:,.0f} | "
              f"{rust[name] / py['sync_vector_8']:.1f}x |")


if __name__ == "__main__":
    main()
