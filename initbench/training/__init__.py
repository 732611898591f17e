"""initbench.training"""
