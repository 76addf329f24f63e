"""The command-line applications behind `lucid-ros` (lucid_ros/cli.py parses, these run):
`sim` (a SimGraph run and its summary), `success-table`, `robot` and `fake-robot`.

They sit on top of everything else: nothing outside lucid_ros/cli.py and this package imports them
(test/test_layout.py), so `lucid_ros.nodes` holds only ROS nodes and the graphs that host them.
"""
