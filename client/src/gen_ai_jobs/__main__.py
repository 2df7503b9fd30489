"""`python -m gen_ai_jobs`: the same as the `gen-ai-jobs` command."""

from gen_ai_jobs.cli import main

main()
