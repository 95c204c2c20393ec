"""`jetfm study`: a whole study from one YAML plan — generate, pre-train, evaluate, export,
transfer, anomaly searches and the report, each step a `jetfm` command, resumable and N
steps at a time. plan (load and check) → steps (commands, outputs) → runner (run them)."""
from .plan import Plan, builtin_plans, load_plan, parse_plan
from .runner import StepFailed, run_study
from .steps import PHASES, Step, plan_steps

__all__ = ["Plan", "Step", "PHASES", "StepFailed", "builtin_plans", "load_plan", "parse_plan",
           "plan_steps", "run_study"]
