"""initbench.evaluation"""
