"""Trigger the retraining pipeline over REST and watch it finish: the workflow notebook's last cells, with bankscore.

The notebook does ``requests.post(published_pipeline.endpoint, headers=auth_header, json={"ExperimentName":
"pipeline-rest-endpoint"})``, prints ``Submitted pipeline run: <id>`` and waits for the run. This script does the
same against the local publisher (`bankscore pipeline publish`, the default) or any Azure ML published
pipeline or pipeline endpoint (--endpoint, with --token or azure-identity's DefaultAzureCredential).

    python examples/trigger_pipeline.py [--endpoint URL] [--token TOKEN] [--experiment pipeline-rest-endpoint]
                                        [--param time_budget_s=60 --param exclude=duration]
"""

from __future__ import annotations

import argparse
import sys

from bankscore.pipeline import PipelineRunStatus, load_publisher, trigger, wait


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="Published pipeline URL (default: this workspace's local publisher).")
    parser.add_argument("--token", help="Bearer token (default: the local publisher's, or azure-identity's).")
    parser.add_argument("--experiment", default="pipeline-rest-endpoint")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--poll", type=float, default=5.0, help="Seconds between status reads.")
    args = parser.parse_args()

    endpoint = args.endpoint
    if endpoint is None:
        local = load_publisher()
        if local is None:
            sys.exit("no local publisher: run `bankscore pipeline publish` first, or pass --endpoint")
        endpoint = local.published_pipeline_url
    parameters = dict(item.split("=", 1) for item in args.param)

    run_id = trigger(endpoint, args.experiment, parameters=parameters, token=args.token)
    print("Submitted pipeline run: ", run_id)

    def show(current: PipelineRunStatus) -> None:
        print(f"  {current.describe()}", flush=True)

    final = wait(
        run_id, endpoint=endpoint, experiment=args.experiment, token=args.token, poll=args.poll, on_status=show
    )
    print(f"run {run_id} ended {final.status}")
    return 0 if final.status == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
