#!/usr/bin/env bash
# images/check.sh [spark|operator|trino|all]: run an image's checks on this machine, without a node or a container
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

read -r -d '' operator_checks <<'CHECKS' || true
set -euo pipefail
echo "id: $(id)"
kemr --help
python3 -c 'import kopf, kubernetes, pydantic, jinja2, yaml, prometheus_client, kemr.cli; print("imports ok")'
if touch /opt/venv/x 2>/dev/null; then echo "root filesystem writable!"; exit 1; fi
CHECKS

main() {
  local what=${1:-spark} start=$SECONDS
  case "$what" in
    spark | operator | trino | all) ;;
    *) echo "usage: images/check.sh [spark|operator|trino|all]  (all = spark + operator)" >&2; exit 2 ;;
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
  log "image checks passed in $((SECONDS - start)) s"
}

main "$@"
