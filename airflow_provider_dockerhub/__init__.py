"""Apache Airflow provider for Docker Hub: the Hub management API, the Registry HTTP API v2 and Docker Scout.

Importing this package is cheap on purpose (DAG parsing pays for every import): submodules load on use.
"""

__version__ = "0.1.0"
