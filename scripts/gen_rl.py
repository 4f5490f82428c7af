"""Gymnasium's classic-control trajectories, for ml-rl's parity test
(`ml-rl/tests/gymnasium.rs`).

    .venv-rl/bin/python scripts/gen_rl.py [OUT_DIR]

(.venv-rl is made by `scripts/setup-python.sh rl`.) For each environment,
seed and action policy it plays one episode of `gymnasium.make(id)` from
`reset(seed=seed)` and records the actions and what came back: the reset
observation, then each step's observation, reward, terminated and
truncated. Actions come from a seeded NumPy generator, or from a simple
controller that reaches the goal (so terminal rewards are covered too);
continuous actions sometimes leave the action space, which the
environments clip. Also records vectorized episodes (`SyncVectorEnv`, next-step autoreset)
with random actions. Writes `testdata/rl/gymnasium_classic.json`.
"""
import json
import math
import pathlib
import sys

import gymnasium as gym
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def controller(env_id, obs, rng):
    """A policy that reaches each task's goal often, with some noise."""
    if env_id == "CartPole-v1":
        return int(obs[2] + 0.5 * obs[3] > 0) if rng.random() > 0.05 else int(rng.integers(2))
    if env_id == "MountainCar-v0":
        return 2 if obs[1] >= 0 else 0
    if env_id == "MountainCarContinuous-v0":
        return np.array([math.copysign(1.2, obs[1]) if obs[1] != 0 else 1.0], dtype=np.float32)
    if env_id == "Acrobot-v1":
        return 2 if obs[5] >= 0 else 0
    if env_id == "Pendulum-v1":
        return np.array([np.clip(-2.0 * obs[2], -2.5, 2.5)], dtype=np.float32)
    raise ValueError(env_id)


def random_action(env, rng):
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        return int(rng.integers(space.n))
    # A tenth of the values fall outside the bounds (the environment clips).
    low, high = space.low.astype(float) * 1.25, space.high.astype(float) * 1.25
    return rng.uniform(low, high).astype(np.float32)


def play(env_id, seed, policy):
    env = gym.make(env_id)
    rng = np.random.default_rng(seed + 1000)
    obs, _ = env.reset(seed=seed)
    case = {"env": env_id, "seed": seed, "policy": policy, "reset_obs": [float(v) for v in obs], "actions": [], "steps": []}
    while True:
        a = controller(env_id, obs, rng) if policy == "controller" else random_action(env, rng)
        obs, reward, terminated, truncated, _ = env.step(a)
        case["actions"].append(a if isinstance(a, int) else [float(v) for v in a])
        case["steps"].append({"obs": [float(v) for v in obs], "reward": float(reward),
                              "terminated": bool(terminated), "truncated": bool(truncated)})
        if terminated or truncated:
            break
    env.close()
    return case


def vector_episode(env_id, n, seed, steps):
    """A SyncVectorEnv of n environments with next-step autoreset (Gymnasium 1.x's default)."""
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)])
    rng = np.random.default_rng(seed + 7)
    obs, _ = envs.reset(seed=seed)
    case = {"env": env_id, "num_envs": n, "seed": seed, "reset_obs": obs.astype(float).tolist(), "actions": [], "steps": []}
    for _ in range(steps):
        a = rng.integers(envs.single_action_space.n, size=n)
        obs, reward, terminated, truncated, _ = envs.step(a)
        case["actions"].append([int(v) for v in a])
        case["steps"].append({"obs": obs.astype(float).tolist(), "reward": reward.astype(float).tolist(),
                              "terminated": terminated.tolist(), "truncated": truncated.tolist()})
    envs.close()
    return case


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata" / "rl"
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for env_id in ["CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1"]:
        for seed in [0, 1, 42, 2024]:
            for policy in ["random", "controller"]:
                cases.append(play(env_id, seed, policy))
    vector = [vector_episode("CartPole-v1", 3, 5, 120), vector_episode("MountainCar-v0", 2, 9, 450)]
    doc = {"generator": "scripts/gen_rl.py", "versions": {"gymnasium": gym.__version__, "numpy": np.__version__},
           "cases": cases, "vector": vector}
    (out / "gymnasium_classic.json").write_text(json.dumps(doc) + "\n")
    ends = {}
    for c in cases:
        s = c["steps"][-1]
        key = (c["env"], "terminated" if s["terminated"] else "truncated")
        ends[key] = ends.get(key, 0) + 1
    print(f"wrote {len(cases)} episodes, {sum(len(c['steps']) for c in cases)} steps: {ends}")


if __name__ == "__main__":
    main()
