"""initbench.leaderboard"""
