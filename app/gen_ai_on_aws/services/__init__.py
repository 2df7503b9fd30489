"""Services: the AWS and LLM calls behind the routes, each raising the errors in `errors`."""
