"""Scoring a Bank Marketing model on the Azure ML inference server (``azmlinfsrv``).

bankscore copies this package unchanged into every deployment folder, beside the entry script ``score.py``
that the server loads (the server puts the folder on ``sys.path``); the same code runs locally and on Azure
ML. It is self-contained on purpose: its modules import one another relatively, never by a package name,
and need only the standard library, numpy and the model's own learner libraries (LightGBM, XGBoost,
scikit-learn), never bankscore, so the folder deploys to Azure as it is. bankscore imports it too (as
``bankscore.deploy.bankscore_scoring``), for its pure functions: that is how a release is checked to score
exactly what the trained model scores before its folder is written.

The model folder holds ``scorer.pkl`` (learners reduced to boosters, trees or coefficients, plus category
codes) and ``contract.json`` (the features with their types, categories and ranges, the wire generation,
the model version and the limits), both written by ``bankscore deploy``.

Per request: the raw body is read with a size bound (``@rawhttp``), parsed once, checked column by column
without pandas, encoded and scored. A caller's mistake is a 400 (or 413, 415) with ``{"message": ...}``
naming the record, field and value; never a 500. One JSON line per request goes to the log (request id,
status, latency, record count, model version; never features or keys).

Generation D (an MLflow model on a managed online endpoint, which Azure serves with Microsoft's no-code
``mlflow_score_script.py``): the request is ``{"input_data": {"columns", "index", "data"}, "params":
{"predict_method": "predict" | "predict_proba"}}``, a pandas "split" frame whose columns may come in any order
(columns the model does not use are ignored, ``index`` may be left out, other top-level keys are ignored); a
200 is a bare array, labels or ``{"no": P(no), "yes": P(yes)}`` per row, the same bytes Microsoft's script
answers for the same model (Python's ``json.dumps`` spacing, the model's own doubles). Where that script
fails or guesses, this one says what is wrong, on purpose:

* a missing column, a value of the wrong type (``"age": "x"``, a null), an empty ``data``, an ``index`` of
  another length, an ``input_data`` that is not a split frame, an unknown ``predict_method``: 400 naming the
  field and value, where Microsoft's script answers the generic 500 "An unexpected error occurred in scoring
  script" (and Azure's front end turns that into 424);
* a short (ragged) row: 400, where pandas fills the gap with NaN and the row is scored;
* values the feature contract refuses but MLflow casts: ``"age": "57"`` and ``57.5`` (cast to 57), an unknown
  category or a category sent as a number (scored anyway), a number outside the contract's range: 400, as
  in generations A, B and C;
* ``params`` that is not an object: 400 (MLflow ignores it for a model without a params schema);
* more than 10,000 rows, or a body over the size limit: 400 or 413 (Microsoft's script has no limit).

The server's own answers stay the server's: 400 for a body that is not a JSON object or lacks ``input_data``
(with its words), 415 for another Content-Type. Swagger 2.0 is served for D as well: Microsoft's script has
none for this model under pandas 2 (its example rows mix types, which inference-schema's Swagger 2 refuses)
and serves a document without example rows under pandas 3; one that tools fetching ``GET /swagger.json``
(version 2, the server's default) can use is worth more than copying an accident.

Where the time goes: a one-record request is mostly the server's own work, so the script keeps its share
small: up to SMALL_BATCH rows are scored by every learner's trees in Python (each library's predict call
costs more set-up than walking the trees), and the checks loop without numpy. A request of many records is
mostly parsing, checking and freeing the body, so the body is read in one piece and each column is converted
to floats once and reused for scoring.

The modules, each one concern, in the order a request meets them:

    route     the server's init() and run(): the model per worker, the raw body read with a bound, the status
    logline   one JSON line per request
    dispatch  the one path from a body to an answer: parse, check, score, encode
    wire      JSON read once; the records and method of generations A, B, C; D's split frame
    checks    records and frames checked against the contract, column by column
    messages  what a 400 says, naming record, field and value
    model     the loaded scorer: checks as plain values, the learners' P(yes)
    trees     each learner's trees as lists, walked as the libraries walk them
    codegen   the same trees as generated Python, for a few rows
    encode    the 200 body in the deployment's generation
    facts     file names, limits and shapes every module shares
"""

import os

# One thread per worker: the server scales with worker processes, and OpenMP threads in every worker fight
# each other for the cores, which costs far more throughput than the threads gain.
# Read when the learner libraries load their OpenMP runtime, i.e. when init() unpickles the model; set here,
# before any module of the package imports numpy.
os.environ.setdefault("OMP_NUM_THREADS", "1")
