"""Unitree SDK2 low-level over DDS (Go2, B2, H1: unitree_go; G1, H1-2: unitree_hg)."""
