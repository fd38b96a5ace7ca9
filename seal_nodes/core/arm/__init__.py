"""The arm's robot model shared by the simulator, the policy and the nodes: trajectories, limits."""
