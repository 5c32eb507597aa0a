"""Light catalogs of the names a config may use (drift tests, metrics, families, source kinds, sinks).

Loading a config resolves every name against these catalogs, so ``validate`` and the DAG file catch a typo
with "did you mean" before any run. The heavy implementations (the drift registry, the metric functions,
the source readers, the sinks) register under the same names, and tests assert that both sides agree.
Modules here import nothing heavier than the standard library: the DAG file imports them at parse time.
"""
