"""kemr-notebook's Jupyter Server configuration (docs/image-contract.md, "Notebook"), on JUPYTER_CONFIG_PATH.

Everything comes from the environment, which kemr-notebook has checked before starting the server: the
listening port and base URL, the token or password, and the S3 location of the notebooks.
"""

import os
from urllib.parse import urlsplit

from jupyter_server.auth import passwd
from s3contents import S3ContentsManager

c = get_config()  # type: ignore[name-defined]  # noqa: F821  # traitlets' config loader defines it

# Listening: every address of the pod, at the port and base URL asked for; another port is never tried (a
# pod's port is fixed), no browser.
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = int(os.environ.get("KEMR_NOTEBOOK_PORT") or 8888)
c.ServerApp.port_retries = 0
c.ServerApp.base_url = os.environ.get("KEMR_NOTEBOOK_BASE_URL") or "/"
c.ServerApp.open_browser = False
c.ServerApp.allow_remote_access = True

# Authentication: the token when one is set (in the URL, an Authorization header, or the login page); a
# password (hashed here, at start) when set; both may be. Never a generated token: the pod's owner chose it.
token = os.environ.get("KEMR_NOTEBOOK_TOKEN", "")
password = os.environ.get("KEMR_NOTEBOOK_PASSWORD", "")
c.IdentityProvider.token = token
if password:
    c.PasswordIdentityProvider.hashed_password = passwd(password)
c.PasswordIdentityProvider.allow_password_change = False

# Notebooks (and every other file the UI shows) in S3: KEMR_NOTEBOOK_S3_URI=s3://bucket/prefix/, the standard
# AWS environment for the credentials (none set: botocore's default chain, e.g. a web identity) and the
# region; AWS_ENDPOINT_URL_S3 for another endpoint (MinIO), then with path-style addressing.
location = urlsplit(os.environ.get("KEMR_NOTEBOOK_S3_URI", ""))
region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
c.ServerApp.contents_manager_class = S3ContentsManager
c.S3ContentsManager.bucket = location.netloc
c.S3ContentsManager.prefix = location.path.strip("/")
c.S3ContentsManager.region_name = region
c.S3ContentsManager.endpoint_url = endpoint or f"https://s3.{region}.amazonaws.com"
if endpoint:
    c.S3ContentsManager.s3fs_config_kwargs = {"s3": {"addressing_style": "path"}}
c.S3ContentsManager.access_key_id = os.environ.get("AWS_ACCESS_KEY_ID") or None
c.S3ContentsManager.secret_access_key = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
c.S3ContentsManager.session_token = os.environ.get("AWS_SESSION_TOKEN") or None

# No calls home: JupyterLab's news and update checks fetch from the Internet, which a cluster may not reach.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
