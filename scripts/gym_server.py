"""Serve a Gymnasium environment over ml-rl's process protocol: one JSON
object a line on stdin, one reply a line on stdout (see ml-rl's `process`
module for the messages).

    python scripts/gym_server.py ENV_ID

ml-rl's `ProcessEnv::spawn(python, &["scripts/gym_server.py", "CartPole-v1"])`
drives it; `ml-rl/tests/process.rs` does so with `.venv-rl`. Any
Gymnasium environment with Discrete, Box or MultiDiscrete spaces works.
"""
import json
import math
import sys

import gymnasium as gym
import numpy as np


def bound(v):
    v = float(v)
    return None if math.isinf(v) else v


def space(s):
    if isinstance(s, gym.spaces.Discrete):
        return {"type": "discrete", "n": int(s.n), "start": int(s.start)}
    if isinstance(s, gym.spaces.Box):
        return {"type": "box", "low": [bound(v) for v in s.low.ravel()], "high": [bound(v) for v in s.high.ravel()],
                "shape": list(s.shape)}
    if isinstance(s, gym.spaces.MultiDiscrete):
        return {"type": "multi_discrete", "nvec": [int(v) for v in s.nvec]}
    raise TypeError(f"unsupported space {s}")


def numbers(info):
    return {k: float(v) for k, v in info.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}


def main():
    env = gym.make(sys.argv[1])
    out = sys.stdout
    for line in sys.stdin:
        try:
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "spaces":
                reply = {"id": env.spec.id, "observation_space": space(env.observation_space),
                         "action_space": space(env.action_space)}
            elif cmd == "reset":
                obs, info = env.reset(seed=req.get("seed"))
                reply = {"obs": np.asarray(obs, dtype=float).ravel().tolist(), "info": numbers(info)}
            elif cmd == "step":
                a = req["action"]
                if isinstance(env.action_space, gym.spaces.Box):
                    a = np.asarray(a, dtype=env.action_space.dtype).reshape(env.action_space.shape)
                elif isinstance(env.action_space, gym.spaces.MultiDiscrete):
                    a = np.asarray(a, dtype=np.int64)
                obs, reward, terminated, truncated, info = env.step(a)
                reply = {"obs": np.asarray(obs, dtype=float).ravel().tolist(), "reward": float(reward),
                         "terminated": bool(terminated), "truncated": bool(truncated), "info": numbers(info)}
            elif cmd == "close":
                out.write("{}\n")
                out.flush()
                break
            else:
                reply = {"error": f"unknown command {cmd!r}"}
        except Exception as e:  # the client gets every failure as a reply
            reply = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    env.close()


if __name__ == "__main__":
    main()
