"""Names `vulture src/flowpack` reports as unused that are used, from outside its view.

Read by vulture (`make lint`), never imported.  `_.name` whitelists an attribute or method of
any class, a bare name a function, class or variable.  Each entry says who uses it; keep the
groups and remove an entry when what it names goes.
"""

# ruff: noqa
# mypy: ignore-errors

# Module-level __getattr__ (PEP 562): lazy public names.
__getattr__  # flowpack/__init__.py, flowpack/backends/bucket/__init__.py (lazy openers)

# Entry points, click commands and click/importlib/SDK hooks: called by the framework.
main  # cli/main.py: the `flowpack` console script
_.list_commands  # cli/main.py: click.Group
_.convert  # cli/params.py: click.ParamType
get_ref  # cli/refs.py: click command `ref get`
list_refs  # cli/refs.py: click command `ref list`
remove_ref  # cli/refs.py: click command `ref rm`
key_generate  # cli/keys.py: click command `key generate`
key_public  # cli/keys.py: click command `key public`
trust_add  # cli/keys.py: click command `trust add`
trust_remove  # cli/keys.py: click command `trust remove`
trust_list  # cli/keys.py: click command `trust list`
create_token_command  # cli/serve.py: click command `token create`
list_tokens_command  # cli/serve.py: click command `token ls`
revoke_token_command  # cli/serve.py: click command `token revoke`
_.get_code  # packer/scope.py: importlib loader protocol
_.globals_ref  # packer/pickled.py: read by cloudpickle's Pickler
_.proto  # packer/pickled.py: read by pickle.Pickler
_.do_connect  # backends/bucket/azure.py: adlfs calls it to build its client
_.retries  # backends/bucket/s3.py: read by s3fs
_._s3  # backends/bucket/s3.py: s3fs's client slot, cleared on close

# Records and declarations read by field name (asdict, dataclass fields, callers' checks).
nonce  # backends/local/lockfile.py: LockOwner field, written into the lock file
range_reads  # cas/protocols.py: Capabilities field (declared by every adapter)
read_only  # cas/protocols.py: Capabilities field
listable  # cas/protocols.py: Capabilities field

# Public API used by library callers and tests (tests are outside `vulture src/flowpack`).
CapabilityError  # cas/errors.py: the refusal error of the error tree
_.on_close  # cas/location.py: Location.on_close
_.closed  # cas/location.py: Location.closed
_.open_sessions  # backends/bucket/sessions.py: SessionPool.open_sessions
run_flow  # packer/run.py: the library's run verb
audit_export  # packer/audit.py: the library's offline audit of an export file
_.resolve_secrets  # storage/base.py: seed Storage API
ENV_CONNECTION_STRING  # storage/azure.py: seed constant


# importlib's protocol: a module spec's loader is read by the import system.
_.loader
# public helper (the storage a flow registers with), used by the tests and library callers
storage_for

# httpx.Auth hooks (backends/oci/auth.py): read by httpx.
_.requires_response_body
_.auth_flow
# tarfile.TarInfo fields set for reproducible layers (packer/layers.py): read by tarfile.
_.uid
_.gid
_.uname
_.gname
# public property of the Docker storage class (the image a build pushed)
_.image_reference
# dulwich Commit fields set when a blob commit is built (backends/git/store.py): read by dulwich.
_.author
_.committer
_.author_time
_.author_timezone
_.commit_timezone

# WriteStats counters read by tests/cas/test_perf_bounds.py and the benchmarks
_.base_bytes_planned
_.bases_dropped
_.fallbacks_used
# click commands registered through their group (cli/projects.py)
create_command
_.serialize  # storage/base.py: seed Storage API
# click.Group hooks overridden by FlowpackGroup (cli/main.py), and its loader for tests and tools
_.get_command
_.format_commands
load_all_commands
