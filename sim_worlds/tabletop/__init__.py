"""MuJoCo tabletop with a Franka Panda: the world, its tasks and scripted experts."""
