#!/usr/bin/env bash
# images/check.sh [spark|operator|trino|notebook|all]: run an image's checks on this machine, without a node or a container
# runtime: the image's root filesystem (buildah mount) read-only, a fresh tmpfs on /tmp, the image's user and
# environment, in private mount, UTS and pid namespaces (as root: unshare + chroot --userspec).
# Data plane (docs/image-contract.md): java, python3 + pyspark, hdfs version, spark-submit --version, the S3A
# jars, a local PySpark job, a Spark master answering /json/ and a worker registering with it, a formatted
# NameNode answering /jmx with its web UI, a DataNode registering, and a file put into and read from HDFS;
# PostgreSQL (kemr-postgres) initialised in and restarted on a "volume", the Hive Metastore's schema made in it
# (kemr-metastore-schema), the metastore (kemr-metastore) serving a Spark session's catalog, and the same on Derby.
# Operator: `kemr --help` and the locked dependencies import, as uid 65532.
# Trino (only when named: `all` is spark + operator, as for images/build.sh): java 25, `trino --version`, a
# single-node server (kemr-trino-server) with the tpch and memory catalogs, kemr-trino-step's CSV output, a
# multi-statement file, a syntax error's exit code and termination message, and kemr-trino-drain stopping it.
# Notebook (only when named, as Trino): `jupyter lab --version`, the venv's imports, kemr-notebook's refusals (no
# token or password, a bad S3 URI or port: exit 2), JupyterLab answering /api/status with the token (403 without),
# a notebook saved into S3 (a MinIO of the check's own), a kernel whose `spark` runs a job on a standalone master and
# worker, a kernel without `spark` when the session fails (the first cell says why), and password login.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# run_in_image IMAGE USER:GROUP SCRIPT: SCRIPT with bash, in IMAGE, with only the image's environment.
run_in_image() {
  local image=$1 user=$2 script=$3 ctr rootfs image_env
  bah inspect --type image "$image" >/dev/null 2>&1 || die "$image is not built: images/build.sh"
  ctr=$(bah from --pull=false --quiet "$image")
  # shellcheck disable=SC2064  # expand $ctr now: the trap runs after this function's locals are gone
  # RETURN, and EXIT too: a failing check ends the script (set -e) without returning, which left the working
  # container (and the image under it, unprunable) behind.
  trap "bah umount '$ctr' >/dev/null 2>&1 || true; bah rm '$ctr' >/dev/null 2>&1 || true" RETURN EXIT
  rootfs=$(bah mount "$ctr")
  mapfile -t image_env < <(bah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$image" | sed '/^$/d')
  # As the kubelet does, /etc/hosts comes from outside (the image's is empty) and the hostname resolves in it.
  # shellcheck disable=SC2016  # the inner script expands its own arguments
  unshare --mount --uts --pid --fork --mount-proc bash -euc '
    root=$1 user=$2; shift 2
    hostname localhost
    mount --make-rprivate /
    mount --bind "$root" "$root"
    mount -o remount,bind,ro "$root"
    mount --bind /etc/hosts "$root/etc/hosts"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec chroot --userspec="$user" "$root" /usr/bin/env -i "$@"
  ' check "$rootfs" "$user" "${image_env[@]}" HOME=/tmp bash -c "$script"
}

# Runs inside the image, as 185, with only the image's environment. Ports are unusual ones on loopback.
read -r -d '' spark_checks <<'CHECKS' || true
set -euo pipefail
step() { printf '\n== %s\n' "$*"; }
http_get() {  # URL SECONDS [TEXT]: the body once the URL answers 200 (with TEXT in it), else fail
  python3 - "$1" "$2" "${3:-}" <<'PY'
import sys, time, urllib.request
url, deadline, text = sys.argv[1], time.monotonic() + float(sys.argv[2]), sys.argv[3]
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read().decode()
        if text in body:
            print(body[:300]); break
        error = f"no {text!r} in {body[:200]!r}"
    except OSError as e:
        error = str(e)
    if time.monotonic() > deadline: sys.exit(f"{url}: {error}")
    time.sleep(1)
PY
}
step "id: $(id)"
step java -version; java -version
step import pyspark; python3 -c 'import pyspark, sys; print("pyspark", pyspark.__version__, "python", sys.version.split()[0])'
step hdfs version; hdfs version
step spark-submit --version; spark-submit --version
step S3A jars; ls "$SPARK_HOME"/jars/hadoop-aws-*.jar "$SPARK_HOME"/jars/aws-java-sdk-bundle-*.jar \
  "$SPARK_HOME"/jars/spark-hadoop-cloud_*.jar "$HADOOP_HOME"/share/hadoop/common/lib/hadoop-aws-*.jar
step root filesystem is read-only; if touch /opt/spark/x 2>/dev/null; then echo "writable!"; exit 1; fi; echo ok

step "spark-submit --master local[1] (a PySpark job)"
cat >/tmp/job.py <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("kemr-image-check").getOrCreate()
total = spark.sparkContext.parallelize(range(1, 101), 2).sum()
print(f"kemr-image-check sum={total}")
spark.stop()
PY
spark-submit --master 'local[1]' --conf spark.ui.enabled=false --driver-memory 512m /tmp/job.py 2>/tmp/job.err \
  | grep 'kemr-image-check sum=5050' || { grep -v ' INFO ' /tmp/job.err | tail -40; exit 1; }

step Spark master
spark-class org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 17077 --webui-port 18080 >/tmp/master.log 2>&1 &
master=$!
http_get http://127.0.0.1:18080/json/ 90 '"status" : "ALIVE"' || { tail -30 /tmp/master.log; exit 1; }
step Spark worker registers with the master
SPARK_WORKER_DIR=/tmp/worker SPARK_WORKER_CORES=1 SPARK_WORKER_MEMORY=512m spark-class \
  org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --port 17078 --webui-port 18081 spark://127.0.0.1:17077 \
  >/tmp/worker.log 2>&1 &
worker=$!
http_get http://127.0.0.1:18080/json/ 90 '"aliveworkers" : 1' >/dev/null || { tail -30 /tmp/worker.log; exit 1; }
echo "worker alive"
kill "$worker" "$master"

step NameNode: format, start, /jmx and the web UI
mkdir -p /tmp/conf && cp "$HADOOP_HOME/etc/hadoop/log4j.properties" /tmp/conf/
cat >/tmp/conf/core-site.xml <<'XML'
<configuration><property><name>fs.defaultFS</name><value>hdfs://127.0.0.1:18020</value></property></configuration>
XML
cat >/tmp/conf/hdfs-site.xml <<'XML'
<configuration>
<property><name>dfs.namenode.name.dir</name><value>/tmp/nn</value></property>
<property><name>dfs.namenode.http-address</name><value>127.0.0.1:19870</value></property>
<property><name>dfs.namenode.rpc-address</name><value>127.0.0.1:18020</value></property>
<property><name>dfs.datanode.data.dir</name><value>/tmp/dn</value></property>
<property><name>dfs.datanode.address</name><value>127.0.0.1:19866</value></property>
<property><name>dfs.datanode.http.address</name><value>127.0.0.1:19864</value></property>
<property><name>dfs.datanode.ipc.address</name><value>127.0.0.1:19867</value></property>
<property><name>dfs.replication</name><value>1</value></property>
</configuration>
XML
export HADOOP_CONF_DIR=/tmp/conf HADOOP_HEAPSIZE_MAX=512m
hdfs namenode -format -nonInteractive -clusterid CID-image-check >/tmp/format.log 2>&1 || { tail -30 /tmp/format.log; exit 1; }
hdfs namenode >/tmp/nn.log 2>&1 &
nn=$!
http_get 'http://127.0.0.1:19870/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus' 90 '"State" : "active"' || { tail -40 /tmp/nn.log; exit 1; }
http_get http://127.0.0.1:19870/dfshealth.html 10 'dfshealth' >/dev/null && echo "web UI served (webapps/hdfs)"
step DataNode: registers, a file goes in and out of HDFS
hdfs datanode >/tmp/dn.log 2>&1 &
dn=$!
http_get 'http://127.0.0.1:19870/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState' 90 '"NumLiveDataNodes" : 1' \
  >/dev/null || { tail -40 /tmp/dn.log; exit 1; }
hdfs dfsadmin -safemode wait
echo "kemr image check" >/tmp/hello.txt
hdfs dfs -put /tmp/hello.txt /hello.txt 2>/dev/null
[ "$(hdfs dfs -cat /hello.txt 2>/dev/null)" = "kemr image check" ] || { echo "HDFS round trip failed"; tail -40 /tmp/dn.log; exit 1; }
echo "HDFS round trip ok"
kill "$dn" "$nn"

port_open() {  # PORT SECONDS: wait until something listens on 127.0.0.1:PORT
  local deadline=$((SECONDS + $2))
  until (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
step "PostgreSQL (kemr-postgres): initdb into a volume whose root holds lost+found, as 185"
mkdir -p /tmp/pgvol/lost+found
export PGDATA=/tmp/pgvol POSTGRES_USER=hive POSTGRES_PASSWORD=check-pw POSTGRES_DB=metastore POSTGRES_PORT=15432
kemr-postgres >/tmp/pg.log 2>&1 &
pg=$!
port_open 15432 60 && pg_isready -h 127.0.0.1 -p 15432 || { cat /tmp/pg.log; exit 1; }
PGPASSWORD=check-pw psql -X -h 127.0.0.1 -p 15432 -U hive -d metastore -Atc 'SELECT current_database()'
if PGPASSWORD=wrong psql -X -h 127.0.0.1 -p 15432 -U hive -d metastore -c 'SELECT 1' 2>/dev/null; then
  echo "a wrong password was accepted"; exit 1
fi
step "Hive Metastore schema (kemr-metastore-schema) in PostgreSQL"
mkdir -p /tmp/hms-conf
cat >/tmp/hms-conf/metastore-site.xml <<'XML'
<configuration>
<property><name>javax.jdo.option.ConnectionURL</name><value>jdbc:postgresql://127.0.0.1:15432/metastore</value></property>
<property><name>javax.jdo.option.ConnectionDriverName</name><value>org.postgresql.Driver</value></property>
<property><name>javax.jdo.option.ConnectionUserName</name><value>hive</value></property>
<property><name>javax.jdo.option.ConnectionPassword</name><value>${env.METASTORE_DB_PASSWORD}</value></property>
<property><name>metastore.warehouse.dir</name><value>file:///tmp/warehouse</value></property>
</configuration>
XML
export METASTORE_CONF_DIR=/tmp/hms-conf METASTORE_DB_PASSWORD=check-pw METASTORE_HEAPSIZE_MB=512
kemr-metastore-schema
kemr-metastore-schema 2>&1 | grep 'is current'
step "Hive Metastore (kemr-metastore) on PostgreSQL: thrift on 19083, a Spark session's catalog"
METASTORE_PORT=19083 kemr-metastore >/tmp/hms.log 2>&1 &
hms=$!
port_open 19083 90 || { grep -v '^\s*at ' /tmp/hms.log | tail -40; exit 1; }
spark-sql --master 'local[1]' --driver-memory 512m --conf spark.ui.enabled=false \
  --conf spark.sql.catalogImplementation=hive --conf spark.hadoop.hive.metastore.uris=thrift://127.0.0.1:19083 \
  -e "CREATE DATABASE kemr_check LOCATION 'file:///tmp/warehouse/kemr_check.db';
      CREATE TABLE kemr_check.t (x INT) STORED AS TEXTFILE; INSERT INTO kemr_check.t VALUES (42);
      SELECT 'kemr-hive-check', x FROM kemr_check.t" 2>/tmp/spark-sql.err \
  | grep -x "$(printf 'kemr-hive-check\t42')" || { grep -v ' INFO ' /tmp/spark-sql.err | tail -30; grep -v '^\s*at ' /tmp/hms.log | tail -20; exit 1; }
kill "$hms"
step "PostgreSQL restarted: its data is kept"
kill "$pg"; wait "$pg" || true  # SIGTERM, as the kubelet stops it: kemr-postgres makes it a fast shutdown
if [ -e /tmp/pgvol/pgdata/postmaster.pid ]; then  # removed by a clean shutdown only
  echo "PostgreSQL did not shut down cleanly on SIGTERM"; exit 1
fi
kemr-postgres >/tmp/pg2.log 2>&1 &
pg=$!
port_open 15432 60 || { cat /tmp/pg2.log; exit 1; }
if grep -q initdb /tmp/pg2.log; then echo "initdb ran again"; exit 1; fi
PGPASSWORD=check-pw psql -X -h 127.0.0.1 -p 15432 -U hive -d metastore -Atc 'SELECT "TBL_NAME" FROM "TBLS"' | grep -x t
kill "$pg"; wait "$pg" || true
step "Hive Metastore on embedded Derby: schema and thrift on 19084"
mkdir -p /tmp/hms-derby
sed -e 's|jdbc:postgresql://127.0.0.1:15432/metastore|jdbc:derby:;databaseName=/tmp/hms-derby/metastore_db;create=true|' \
    -e 's|org.postgresql.Driver|org.apache.derby.jdbc.EmbeddedDriver|' -e '/ConnectionUserName\|ConnectionPassword/d' \
    /tmp/hms-conf/metastore-site.xml >/tmp/hms-derby/metastore-site.xml
METASTORE_CONF_DIR=/tmp/hms-derby kemr-metastore-schema
METASTORE_CONF_DIR=/tmp/hms-derby METASTORE_PORT=19084 kemr-metastore >/tmp/hms-derby.log 2>&1 &
hms=$!
port_open 19084 90 || { grep -v '^\s*at ' /tmp/hms-derby.log | tail -40; exit 1; }
echo "thrift port 19084 open"
kill "$hms"
step all checks passed
CHECKS

# Runs inside the Trino image, as 185, with only the image's environment. Every wait is bounded; times are printed.
read -r -d '' trino_checks <<'CHECKS' || true
set -euo pipefail
step() { printf '\n== %s\n' "$*"; }
step "id: $(id)"
step java -version; java -version 2>&1 | tee /tmp/java.txt; grep -q 'version "25' /tmp/java.txt
step trino --version; trino --version
step root filesystem is read-only; if touch /opt/trino/x 2>/dev/null; then echo "writable!"; exit 1; fi; echo ok
wait_started() {  # PORT SECONDS: until Trino on PORT says starting=false
  python3 - "$1" "$2" <<'WAIT'
import json, sys, time, urllib.request
url, deadline = f"http://127.0.0.1:{sys.argv[1]}/v1/info", time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            info = json.load(r)
        if not info["starting"]:
            print(info)
            break
    except OSError as e:
        info = str(e)
    if time.monotonic() > deadline:
        raise SystemExit(f"{url}: not started after {sys.argv[2]} s: {info}")
    time.sleep(0.5)
WAIT
}
step "kemr-trino-server: a missing variable is named, exit 2"
rc=0; env -u TRINO_CONF_DIR kemr-trino-server 2>/tmp/err.txt || rc=$?
cat /tmp/err.txt; [ "$rc" = 2 ] && grep -q TRINO_CONF_DIR /tmp/err.txt

step "kemr-trino-server: a single-node coordinator with the tpch and memory catalogs"
mkdir -p /tmp/conf/catalog /tmp/local
cat >/tmp/conf/config.properties <<'EOF'
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=8889
discovery.uri=http://localhost:8889
query.max-memory=256MB
query.max-memory-per-node=256MB
shutdown.grace-period=2s
EOF
echo 'connector.name=tpch' >/tmp/conf/catalog/tpch.properties
echo 'connector.name=memory' >/tmp/conf/catalog/memory.properties
# For kemr-trino-drain: Trino's default access control refuses PUT /v1/info/state (writing system information).
echo 'access-control.name=allow-all' >/tmp/conf/access-control.properties
start=$SECONDS
TRINO_CONF_DIR=/tmp/conf TRINO_HEAP_MB=1024 KEMR_POD_NAME=check-master-0 KEMR_CLUSTER=Check.Cluster \
  KEMR_LOCAL=/tmp/local kemr-trino-server >/tmp/server.log 2>&1 &
server=$!
wait_started 8889 180 || { grep -v '^\s*at ' /tmp/server.log | tail -40; exit 1; }
echo "server started in $((SECONDS - start)) s ($(grep -o 'Server startup completed in .*' /tmp/server.log))"
grep -x 'node.environment=check_cluster' /tmp/local/trino/etc/node.properties

export KEMR_TRINO_SERVER=http://127.0.0.1:8889 KEMR_TERMINATION_LOG=/tmp/termination-log
step "kemr-trino-step --query --output: CSV with a header"
start=$SECONDS
kemr-trino-step --query "SELECT count(*) AS n FROM tpch.tiny.nation" --output /tmp/out.csv
[ "$(od -An -c /tmp/out.csv | tr -d ' \n')" = 'n\n25\n' ] || { echo "unexpected CSV:"; cat /tmp/out.csv; exit 1; }
echo "CSV ok ($((SECONDS - start)) s)"

step "kemr-trino-step --file: statements in order, the last query's rows"
cat >/tmp/script.sql <<'EOF'
-- a table in the memory catalog, then a query of it
CREATE TABLE memory.default.t AS SELECT nationkey, name FROM tpch.tiny.nation WHERE regionkey = 1;
SELECT name, nationkey FROM memory.default.t
ORDER BY nationkey;
EOF
start=$SECONDS
kemr-trino-step --file /tmp/script.sql --session query_max_run_time=1m --output /tmp/file.csv
[ "$(head -n 2 /tmp/file.csv)" = "$(printf 'name,nationkey\nARGENTINA,1')" ] && [ "$(wc -l </tmp/file.csv)" = 6 ] \
  || { echo "unexpected CSV:"; cat /tmp/file.csv; exit 1; }
echo "file ok ($((SECONDS - start)) s)"

step "kemr-trino-step: a syntax error exits 1 with Trino's error name and the query id"
rc=0; kemr-trino-step --query "SELEC 1" || rc=$?
cat /tmp/termination-log; echo
[ "$rc" = 1 ] && grep -qE '^Trino query [0-9]{8}_[0-9]{6}_[0-9]{5}_[a-z0-9]{5} failed: SYNTAX_ERROR: ' /tmp/termination-log
step "kemr-trino-step: an unreachable server exits 2"
rc=0; kemr-trino-step --server http://127.0.0.1:1 --query "SELECT 1" 2>/dev/null || rc=$?
cat /tmp/termination-log; echo; [ "$rc" = 2 ]

step "a worker (kemr-trino-server, coordinator=false) joins the coordinator"
mkdir -p /tmp/worker-conf/catalog /tmp/worker-local
cat >/tmp/worker-conf/config.properties <<'EOF'
coordinator=false
http-server.http.port=8890
discovery.uri=http://localhost:8889
query.max-memory=256MB
query.max-memory-per-node=256MB
shutdown.grace-period=2s
EOF
cp /tmp/conf/catalog/* /tmp/worker-conf/catalog/ && cp /tmp/conf/access-control.properties /tmp/worker-conf/
start=$SECONDS
TRINO_CONF_DIR=/tmp/worker-conf TRINO_HEAP_MB=768 KEMR_POD_NAME=check-core-0 KEMR_CLUSTER=Check.Cluster \
  KEMR_LOCAL=/tmp/worker-local kemr-trino-server >/tmp/worker.log 2>&1 &
worker=$!
wait_started 8890 180 || { grep -v '^\s*at ' /tmp/worker.log | tail -40; exit 1; }
nodes=0
for _ in $(seq 60); do
  kemr-trino-step --query "SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'" --output /tmp/nodes.csv >/dev/null
  nodes=$(tail -n 1 /tmp/nodes.csv)
  [ "$nodes" = 2 ] && break
  sleep 1
done
[ "$nodes" = 2 ] || { echo "the worker did not register: $nodes active nodes"; tail -20 /tmp/worker.log; exit 1; }
echo "worker active $((SECONDS - start)) s after its start"

step "kemr-trino-drain on the worker: a graceful shutdown, the process exits"
start=$SECONDS
timeout 90 kemr-trino-drain 8890 60
timeout 30 tail --pid="$worker" -f /dev/null || { echo "worker still running"; tail -20 /tmp/worker.log; exit 1; }
wait "$worker" || true
grep -q 'Shutdown requested' /tmp/worker.log
echo "worker exited $((SECONDS - start)) s after the drain began"
step "kemr-trino-drain: a coordinator refuses (Trino has no graceful shutdown for it), an absent server; exit 0"
timeout 30 kemr-trino-drain 8889 10
timeout 30 kemr-trino-drain 8890 5
step "the coordinator stops on SIGTERM (as the kubelet stops it)"
start=$SECONDS
kill -TERM "$server"
timeout 60 tail --pid="$server" -f /dev/null || { echo "coordinator still running"; exit 1; }
echo "coordinator exited $((SECONDS - start)) s after SIGTERM"
step all checks passed
CHECKS

read -r -d '' notebook_checks <<'CHECKS' || true
set -euo pipefail
step() { printf '\n== %s\n' "$*"; }
step "id: $(id)"
step jupyter lab --version
version=$(jupyter lab --version); echo "$version"; [ "$version" = 4.6.6 ]
step "the venv's Python: ipykernel, s3contents, and the image's pyspark"
command -v python3 | grep -qx /opt/kemr-notebook/venv/bin/python3
python3 -c 'import sys, pyspark, s3contents, ipykernel, jupyter_server
print("python", sys.version.split()[0], "pyspark", pyspark.__version__, "ipykernel", ipykernel.__version__,
      "s3contents", s3contents.__version__, "jupyter_server", jupyter_server.__version__)'
jupyter kernelspec list
step root filesystem is read-only; if touch /opt/kemr-notebook/x 2>/dev/null; then echo "writable!"; exit 1; fi; echo ok

step "kemr-notebook without a token or password: one line on stderr, exit 2"
rc=0; env -u KEMR_NOTEBOOK_TOKEN -u KEMR_NOTEBOOK_PASSWORD KEMR_NOTEBOOK_S3_URI=s3://notebooks/x/ kemr-notebook \
  2>/tmp/err.txt || rc=$?
cat /tmp/err.txt
[ "$rc" = 2 ] && [ "$(wc -l </tmp/err.txt)" = 1 ] && grep -q 'neither KEMR_NOTEBOOK_TOKEN nor KEMR_NOTEBOOK_PASSWORD' /tmp/err.txt
step "kemr-notebook with no S3 URI, a bad one, a bad port: exit 2"
for bad in "KEMR_NOTEBOOK_S3_URI=" "KEMR_NOTEBOOK_S3_URI=/data/notebooks" "KEMR_NOTEBOOK_S3_URI=s3://x" \
  "KEMR_NOTEBOOK_PORT=http"; do
  rc=0; env KEMR_NOTEBOOK_TOKEN=x KEMR_NOTEBOOK_S3_URI=s3://notebooks/x/ "$bad" kemr-notebook 2>/tmp/err.txt || rc=$?
  echo "$bad: exit $rc: $(cat /tmp/err.txt)"; [ "$rc" = 2 ]
done

# A client of the server's REST API and of a kernel's websocket, and of S3 (botocore, from the venv).
cat >/tmp/client.py <<'PY'
import json, os, sys, time, urllib.error, urllib.request, uuid
import botocore.session
from tornado import httpclient, ioloop, websocket

BASE = "http://127.0.0.1:18888/nb"
TOKEN = {"Authorization": "token x"}

def http(method, path, body=None, headers=TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def s3():
    return botocore.session.get_session().create_client("s3")

def execute(kernel_id, code, timeout=180):
    """Run CODE in the kernel through the server's websocket: (stdout, stderr, error) of that cell."""
    async def run():
        url = BASE.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        ws = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers=TOKEN))
        msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": "check", "session": session, "msg_type": "execute_request",
                  "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                                     "channel": "shell", "buffers": []}))
        out, err, error = [], [], None
        while True:
            message = json.loads(await ws.read_message())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                ws.close()
                return "".join(out), "".join(err), error
    return ioloop.IOLoop.current().run_sync(run, timeout=timeout)

command = sys.argv[1]
if command == "bucket":
    s3().create_bucket(Bucket="notebooks")
elif command == "status":
    deadline = time.monotonic() + 90
    while True:
        try:
            status, body = http("GET", "/api/status")
            if status == 200:
                print(status, body); break
        except OSError as e:
            body = str(e)
        if time.monotonic() > deadline:
            sys.exit(f"no answer from {BASE}/api/status: {body}")
        time.sleep(1)
    status, _ = http("GET", "/api/status", headers={})
    print("without the token:", status); assert status == 403, status
    status, _ = http("GET", "/api/status", headers={"Authorization": "token wrong"})
    print("with another token:", status); assert status == 403, status
    status, body = http("GET", "/api", headers={})
    print("GET /api (the operator's readiness probe) without the token:", status, body); assert status == 200, status
elif command == "wheel":
    # A wheel made here (no index to reach): kemrcheck 1.0, `VALUE = 42`.
    import base64, hashlib, zipfile
    files = {"kemrcheck.py": b"VALUE = 42\n",
             "kemrcheck-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: kemrcheck\nVersion: 1.0\n",
             "kemrcheck-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: check\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
                     for name, data in files.items()) + "kemrcheck-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile("/tmp/kemrcheck-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in {**files, "kemrcheck-1.0.dist-info/RECORD": record.encode()}.items():
            wheel.writestr(name, data)
elif command == "save":
    notebook = {"cells": [{"cell_type": "code", "source": "spark.range(3).count()", "metadata": {},
                           "outputs": [], "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    status, body = http("PUT", "/api/contents/check.ipynb", {"type": "notebook", "content": notebook})
    print("PUT /api/contents/check.ipynb:", status); assert status in (200, 201), body
    status, body = http("GET", "/api/contents/")
    print("listing:", [item["name"] for item in json.loads(body)["content"]])
    objects = s3().list_objects_v2(Bucket="notebooks", Prefix="users/check/")
    keys = [o["Key"] for o in objects.get("Contents", [])]
    print("in S3:", keys); assert "users/check/check.ipynb" in keys
    stored = json.loads(s3().get_object(Bucket="notebooks", Key="users/check/check.ipynb")["Body"].read())
    assert stored["cells"][0]["source"] == "spark.range(3).count()"
elif command == "start-kernel":
    status, body = http("POST", "/api/kernels", {"name": "python3"})
    print("POST /api/kernels:", status); assert status == 201, body
elif command == "kernel":
    status, body = http("POST", "/api/kernels", {"name": "python3"})
    print("POST /api/kernels:", status); assert status == 201, body
    kernel = json.loads(body)["id"]
    out, err, error = execute(kernel, sys.argv[2])
    print("stdout:", out.strip()); print("stderr:", err.strip()[-2000:]); print("error:", error)
    http("DELETE", f"/api/kernels/{kernel}")
    expected = sys.argv[3]
    assert expected in out + err + (error or ""), f"no {expected!r} in the cell's output"
PY
step "an S3 bucket (MinIO at $AWS_ENDPOINT_URL_S3)"
python3 /tmp/client.py bucket

step "Spark standalone master and worker (the cluster the notebook attaches to)"
spark-class org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 17077 --webui-port 18080 >/tmp/master.log 2>&1 &
master=$!
SPARK_WORKER_DIR=/tmp/worker SPARK_WORKER_CORES=1 SPARK_WORKER_MEMORY=1g spark-class \
  org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --port 17078 --webui-port 18081 spark://127.0.0.1:17077 \
  >/tmp/worker.log 2>&1 &
worker=$!
# The cluster's client configuration, as a pod mounts it.
mkdir -p /tmp/conf/spark
cat >/tmp/conf/spark/spark-defaults.conf <<'CONF'
spark.master                  spark://127.0.0.1:17077
spark.driver.memory           512m
spark.executor.memory         512m
spark.ui.enabled              false
CONF

step "kemr-notebook with a token: JupyterLab answers /api/status (base URL /nb/), 403 without the token"
start=$SECONDS
KEMR_NOTEBOOK_TOKEN=x KEMR_NOTEBOOK_S3_URI=s3://notebooks/users/check/ KEMR_NOTEBOOK_PORT=18888 \
  KEMR_NOTEBOOK_BASE_URL=/nb/ KEMR_NOTEBOOK=check-notebook KEMR_POD_IP=127.0.0.1 SPARK_CONF_DIR=/tmp/conf/spark \
  kemr-notebook >/tmp/lab.log 2>&1 &
lab=$!
python3 /tmp/client.py status || { tail -40 /tmp/lab.log; exit 1; }
echo "answered $((SECONDS - start)) s after the start"
step "a notebook saved through the contents API is in S3 (s3://notebooks/users/check/check.ipynb)"
python3 /tmp/client.py save || { tail -40 /tmp/lab.log; exit 1; }
step "a kernel: spark and sc made at its start, a job on the cluster's executors"
start=$SECONDS
python3 /tmp/client.py kernel 'print("master", sc.master, "app", spark.conf.get("spark.app.name"),
      "driver", spark.conf.get("spark.driver.host"), "sum", sc.parallelize(range(1, 101), 2).sum(),
      "executors", sc._jsc.sc().getExecutorMemoryStatus().size() - 1)' \
  'master spark://127.0.0.1:17077 app check-notebook driver 127.0.0.1 sum 5050 executors 1' \
  || { tail -60 /tmp/lab.log; exit 1; }
echo "kernel started and ran the job in $((SECONDS - start)) s"
step "%pip install in a notebook: into \$HOME/.local/lib/python3.11/site-packages, importable at once"
python3 /tmp/client.py wheel
python3 /tmp/client.py kernel '%pip install --no-index /tmp/kemrcheck-1.0-py3-none-any.whl
import kemrcheck; print("kemrcheck", kemrcheck.VALUE, kemrcheck.__file__)' \
  'kemrcheck 42 /tmp/.local/lib/python3.11/site-packages/kemrcheck.py' || { tail -30 /tmp/lab.log; exit 1; }
step "SIGTERM: the server stops, and its kernels (and their drivers' JVMs) with it"
python3 /tmp/client.py start-kernel
sleep 5
# (anchored: this script's own command line holds these words)
kernels='^/opt/kemr-notebook/venv/bin/python[0-9.]* -m ipykernel_launcher' drivers='^/usr/lib/jvm/.* pyspark-shell$'
pgrep -f "$kernels" >/dev/null && pgrep -f "$drivers" >/dev/null || { echo "no kernel or driver running"; exit 1; }
start=$SECONDS
kill "$lab"; wait "$lab" || true
sleep 2
if pgrep -af "$kernels|$drivers"; then echo "outlived the server"; exit 1; fi
echo "stopped in $((SECONDS - start)) s, no kernel or driver left"

step "a session that cannot be made: the kernel starts without spark, the first cell says why"
mkdir -p /tmp/conf/bad && echo 'spark.master nowhere://at-all' >/tmp/conf/bad/spark-defaults.conf
KEMR_NOTEBOOK_TOKEN=x KEMR_NOTEBOOK_S3_URI=s3://notebooks/users/check/ KEMR_NOTEBOOK_PORT=18888 \
  KEMR_NOTEBOOK_BASE_URL=/nb/ SPARK_CONF_DIR=/tmp/conf/bad kemr-notebook >/tmp/lab-bad.log 2>&1 &
lab=$!
python3 /tmp/client.py status >/dev/null || { tail -40 /tmp/lab-bad.log; exit 1; }
python3 /tmp/client.py kernel 'print("spark" in globals())' 'kemr: no Spark session, `spark` is not defined:' \
  || { tail -60 /tmp/lab-bad.log; exit 1; }
grep 'kemr: no Spark session' /tmp/lab-bad.log
kill "$lab"; wait "$lab" || true

step "kemr-notebook with a password: the login page, and the API refuses requests without the session cookie"
KEMR_NOTEBOOK_PASSWORD=secret KEMR_NOTEBOOK_S3_URI=s3://notebooks/users/check/ KEMR_NOTEBOOK_PORT=18889 \
  kemr-notebook >/tmp/lab-pw.log 2>&1 &
lab=$!
python3 - <<'PY' || { tail -40 /tmp/lab-pw.log; exit 1; }
import http.cookiejar, time, urllib.error, urllib.parse, urllib.request
base = "http://127.0.0.1:18889"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
deadline = time.monotonic() + 90
while True:
    try:
        page = opener.open(base + "/login", timeout=10).read().decode(); break
    except OSError:
        if time.monotonic() > deadline: raise
        time.sleep(1)
assert 'type="password"' in page, page[:500]
try:
    urllib.request.urlopen(base + "/api/status", timeout=10); raise SystemExit("/api/status answered without login")
except urllib.error.HTTPError as e:
    print("/api/status without login:", e.code); assert e.code == 403
xsrf = next(c.value for c in jar if c.name == "_xsrf")
for password, expected in (("wrong", False), ("secret", True)):
    form = urllib.parse.urlencode({"password": password, "_xsrf": xsrf}).encode()
    try:
        opener.open(base + "/login?next=%2Fapi%2Fstatus", data=form, timeout=10)
    except urllib.error.HTTPError as e:
        print(f"login with {password!r}:", e.code)
    try:
        status = opener.open(base + "/api/status", timeout=10).status
    except urllib.error.HTTPError as e:
        status = e.code
    print(f"/api/status after logging in with {password!r}:", status)
    assert (status == 200) == expected
PY
kill "$lab"; wait "$lab" || true
kill "$worker" "$master"
CHECKS

read -r -d '' operator_checks <<'CHECKS' || true
set -euo pipefail
echo "id: $(id)"
kemr --help
python3 -c 'import kopf, kubernetes, pydantic, jinja2, yaml, prometheus_client, kemr.cli; print("imports ok")'
if touch /opt/venv/x 2>/dev/null; then echo "root filesystem writable!"; exit 1; fi
CHECKS

# A MinIO for the notebook's checks (s3contents needs S3 as the server starts): the local cluster's build of it
# (cluster/s3.sh build: nothing to do once built), on loopback, its data in a temporary directory; stopped on exit.
# Sets CHECK_S3_ENV: the AWS variables for clients.
start_check_minio() {
  local version bin dir port=19400 password deadline
  "$REPO_DIR/cluster/s3.sh" build
  version=$(sed -n 's/^MINIO_VERSION=//p' "$REPO_DIR/cluster/s3.sh")
  bin=$KEMR_CACHE/bin/minio-$version/minio
  dir=$(mktemp -d)
  password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  MINIO_ROOT_USER=kemr-check MINIO_ROOT_PASSWORD=$password "$bin" server --quiet --address "127.0.0.1:$port" \
    "$dir" >"$dir.log" 2>&1 &
  # shellcheck disable=SC2064  # expand now: the values are this function's
  trap "kill $! 2>/dev/null || true; rm -rf '$dir' '$dir.log'" EXIT
  deadline=$((SECONDS + 30))
  until (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "MinIO did not start: $(tail -5 "$dir.log")"
    sleep 0.5
  done
  CHECK_S3_ENV="export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_REGION=us-east-1"
  CHECK_S3_ENV+=" AWS_ACCESS_KEY_ID=kemr-check AWS_SECRET_ACCESS_KEY=$password"
}

main() {
  local what=${1:-spark} start=$SECONDS
  case "$what" in
    spark | operator | trino | notebook | all) ;;
    *) echo "usage: images/check.sh [spark|operator|trino|notebook|all]  (all = spark + operator)" >&2; exit 2 ;;
  esac
  [ "$(id -u)" -eq 0 ] || die "images/check.sh needs root (mount namespaces, chroot)"
  if [ "$what" = spark ] || [ "$what" = all ]; then
    run_in_image "$SPARK_IMAGE" 185:185 "$spark_checks"
    log "$SPARK_IMAGE: checks passed"
  fi
  if [ "$what" = operator ] || [ "$what" = all ]; then
    run_in_image "$(operator_image)" 65532:65532 "$operator_checks"
    log "$(operator_image): checks passed"
  fi
  if [ "$what" = trino ]; then
    run_in_image "$TRINO_IMAGE" 185:185 "$trino_checks"
    log "$TRINO_IMAGE: checks passed"
  fi
  if [ "$what" = notebook ]; then
    start_check_minio
    # In a subshell: run_in_image's EXIT trap would replace the one stopping MinIO.
    (run_in_image "$NOTEBOOK_IMAGE" 185:185 "$CHECK_S3_ENV; $notebook_checks")
    log "$NOTEBOOK_IMAGE: checks passed"
  fi
  log "image checks passed in $((SECONDS - start)) s"
}

main "$@"
