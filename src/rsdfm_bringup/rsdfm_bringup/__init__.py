"""ROS-side tools of rsdfm: graph runner, bag replay, recorder, demo (subcommands of `rsdfm`)."""
