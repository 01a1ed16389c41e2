"""Load-test a Bank Marketing scoring endpoint with Locust: ``locust -f "$(bankscore-bench --locustfile)"``.

    locust -f "$(bankscore-bench --locustfile)"                                  # web UI on :8089
    locust -f "$(bankscore-bench --locustfile)" --headless -u 8 -r 8 -t 1m --host http://127.0.0.1:5001 \\
        --html report.html --csv run                                              # Locust's own reports

The endpoint is Locust's --host, else BANKSCORE_URI, else the running local deployment; the key is
BANKSCORE_KEY (else the local deployment's own); BANKSCORE_RECORDS names a CSV of records to send instead of
the shipped data. To change more (batch size, wait time, which tasks), subclass
``bankscore_bench.locust.BankMarketingUser`` in a locustfile of your own.
"""

from bankscore_bench.locust import BankMarketingUser


class BankMarketing(BankMarketingUser):
    """One record, a batch, one record's probabilities and the spec, as fast as the endpoint answers."""
