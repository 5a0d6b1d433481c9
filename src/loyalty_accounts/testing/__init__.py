"""Tools that test the programme as a whole on a real server: seeded randomized histories judged by a model.

- :mod:`.workload`: a seeded generator of operations over the Python API;
- :mod:`.proxy`: a loopback HTTP/1.1 proxy that drops and delays answers;
- :mod:`.book` and :mod:`.model`: the sequential model of the programme;
- :mod:`.judge`: the history replayed through the model, answers and invariants checked;
- :mod:`.soak`: a whole run (``scripts/soak.py`` is its command line).

Top layer: it may use every other part of the package; nothing imports it.
"""
