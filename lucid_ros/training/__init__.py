"""Tools that train the shipped policies, on the same policy/, sim/ and safety/ code the runtime runs.

Only this package imports torch (the `[train]` extra); the runtime never does. Modules:
- `config`: every hyperparameter, reward weight and randomisation range of a run, in one dataclass.
- `env`: `WalkEnv`, n Go1 worlds stepped together, observed through the runtime's ObservationBuilder.
- `rewards`: the reward terms, plain numpy functions of a batched state (unit-tested by hand).
- `ppo`: actor-critic networks and the PPO update (torch).
- `export`: the trained actor -> ONNX (normaliser inside the graph) + the policy spec YAML.
- `train_walk`: the one command that trains the Go1 walking policy from a seed.
- `evaluate`: the issue's scenarios, sim only, through OnnxPolicy + ObservationBuilder + SimRobot.
"""
