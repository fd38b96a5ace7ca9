"""MuJoCo tabletop with a Franka Panda: the world, its tasks, the scripted experts and the expert backend."""
