"""The Pulumi program: queue + worker, HTTP API, jobs table, secret, alarms."""
