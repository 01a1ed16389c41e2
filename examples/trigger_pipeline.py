"""Trigger the retraining pipeline over REST and watch it finish, with bankscore.

Azure ML's documented way is ``requests.post(published_pipeline.endpoint, headers=auth_header,
json={"ExperimentName": "pipeline-rest-endpoint"})``, then print ``Submitted pipeline run: <id>`` and wait for
the run. This script does the same against the local publisher (`bankscore pipeline publish`, the default) or
any Azure ML published pipeline or pipeline endpoint (--endpoint, with --token or azure-identity's
DefaultAzureCredential).

    python examples/trigger_pipeline.py [--endpoint URL] [--token TOKEN] [--experiment pipeline-rest-endpoint]
                                        [--param time_budget_s=60 --param exclude=duration]
"""

from __future__ import annotations

import argparse
import sys

from bankscore import BankscoreError
from bankscore.pipeline import PipelineRunStatus, load_publisher, trigger, wait


def parse_param(item: str) -> tuple[str, str]:
    """One --param NAME=VALUE (argparse names the option and the value when this raises)."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{item!r}: expected NAME=VALUE")
    return name.strip(), value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="Published pipeline URL (default: this workspace's local publisher).")
    parser.add_argument("--token", help="Bearer token (default: the local publisher's, or azure-identity's).")
    parser.add_argument("--experiment", default="pipeline-rest-endpoint")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        type=parse_param,
        metavar="NAME=VALUE",
        help="A ParameterAssignments entry.",
    )
    parser.add_argument("--poll", type=float, default=5.0, help="Seconds between status reads.")
    args = parser.parse_args()

    endpoint = args.endpoint
    if endpoint is None:
        local = load_publisher()
        if local is None:
            sys.exit("no local publisher: run `bankscore pipeline publish` first, or pass --endpoint")
        endpoint = local.published_pipeline_url
    parameters = dict(args.param)
    shown: list[str] = []

    def show(current: PipelineRunStatus) -> None:
        line = current.describe()
        if not shown or line != shown[-1]:  # AutoML's progress changes the status often; print what reads new
            shown.append(line)
            print(f"  {line}", flush=True)

    try:
        run_id = trigger(endpoint, args.experiment, parameters=parameters, token=args.token)
        print("Submitted pipeline run: ", run_id)
        final = wait(
            run_id, endpoint=endpoint, experiment=args.experiment, token=args.token, poll=args.poll, on_status=show
        )
    except BankscoreError as exc:  # a bad URL, token or parameter: the service's own words, no traceback
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        sys.exit("stopped watching; a submitted run goes on (`bankscore pipeline status` lists it)")
    print(f"run {run_id} ended {final.status}")
    return 0 if final.status == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
