"""Prompt templates (Jinja2), rendered by dualchecker.agents.prompting.

Override any file by pointing `prompts_dir` at a folder with the same relative path.
"""
