"""MIT Mini Cheetah / walk-these-ways LCM backend: message types, driver, fake robot.

(Named `lcm` inside lucid_ros.hardware; the PyPI `lcm` package is imported absolutely.)
"""
