# Shared by kemr-metastore and kemr-metastore-schema; sourced, not run.
# shellcheck shell=bash
# The Hive Metastore (standalone 3.1.3) runs on the image's Java 17 and Hadoop 3.3.6 (/opt/hadoop, with S3A), not
# on a Hadoop of its own: its classpath is $METASTORE_CONF_DIR (metastore-site.xml, core-site.xml, optionally
# metastore-log4j2.properties), its lib/ (guava 19 and other jars Hadoop has newer removed at build time), then
# Hadoop's jars without their reload4j logging (the metastore logs through log4j2, whose log4j-1.2-api bridge
# provides the org.apache.log4j classes Hadoop calls).
METASTORE_HOME=${METASTORE_HOME:-/opt/hive-metastore}
METASTORE_CONF_DIR=${METASTORE_CONF_DIR:-$METASTORE_HOME/conf}
HADOOP_HOME=${HADOOP_HOME:-/opt/hadoop}
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17}

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

[ -f "$METASTORE_CONF_DIR/metastore-site.xml" ] || [ -f "$METASTORE_CONF_DIR/hive-site.xml" ] \
  || die "no metastore-site.xml (or hive-site.xml) in METASTORE_CONF_DIR=$METASTORE_CONF_DIR"

metastore_classpath() {
  local cp="$METASTORE_CONF_DIR:$METASTORE_HOME/lib/*" jar  # the JVM expands lib/*
  for jar in "$HADOOP_HOME"/share/hadoop/common/lib/*.jar; do
    case ${jar##*/} in reload4j-*.jar | slf4j-reload4j-*.jar) ;; *) cp=$cp:$jar ;; esac
  done
  echo "$cp"
}

# Java 17 refuses reflection into java.base unless opened. The metastore's schema tool, thrift calls from Spark
# (databases, external and managed tables on S3A, Derby and PostgreSQL) ran without any of these; they are the list
# Spark passes its own JVMs (JavaModuleOptions), kept so a path not tried (DataNucleus, Hadoop's caches) does not
# fail with InaccessibleObjectException.
METASTORE_JAVA_OPENS=(
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
)

# run_metastore_java HEAP_MB CLASS ARGS...: exec the JVM. Everything it writes goes under /tmp (the root filesystem is
# read-only): Derby's log, Hadoop's and the JVM's temporary files. METASTORE_OPTS adds JVM options, METASTORE_LOG_LEVEL
# (INFO) sets the level of our log4j2 configuration.
# metastore.expression.proxy, as a system property (MetastoreConf reads those too; tried only with files not setting
# it): the default names a class of Hive's full distribution (PartitionExpressionForMetastore, hive-exec), which the
# standalone metastore lacks; without this it does not start ("Error loading PartitionExpressionProxy").
# metastore.task.threads.always likewise: its default names repl.DumpDirCleanerTask, not in the standalone jar
# ("DumpDirCleanerTask class not found"); these are the default's other tasks.
METASTORE_TASKS=org.apache.hadoop.hive.metastore.events.EventCleanerTask,org.apache.hadoop.hive.metastore.RuntimeStatsCleanerTask,org.apache.hadoop.hive.metastore.MaterializationsRebuildLockCleanerTask
run_metastore_java() {
  local heap=$1 class=$2 log4j=$METASTORE_CONF_DIR/metastore-log4j2.properties
  shift 2
  [ -f "$log4j" ] || log4j=$METASTORE_HOME/conf/metastore-log4j2.properties
  local -a opts
  read -r -a opts <<<"${METASTORE_OPTS:-}"
  exec "$JAVA_HOME/bin/java" -Xmx"${heap}m" "${METASTORE_JAVA_OPENS[@]}" \
    -Djava.io.tmpdir=/tmp -Dderby.stream.error.file=/tmp/derby.log \
    -Dmetastore.expression.proxy=org.apache.hadoop.hive.metastore.DefaultPartitionExpressionProxy \
    -Dmetastore.task.threads.always="$METASTORE_TASKS" \
    -Dlog4j.configurationFile="file:$log4j" -Dlog4j2.formatMsgNoLookups=true -Dmetastore.log.level="${METASTORE_LOG_LEVEL:-INFO}" \
    ${opts[@]+"${opts[@]}"} -cp "$(metastore_classpath)" "$class" "$@"
}

# metastore_conf KEY: a key's value in metastore-site.xml (or hive-site.xml) of METASTORE_CONF_DIR, as written.
metastore_conf() {
  python3 - "$1" "$METASTORE_CONF_DIR" <<'PY'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
key, conf = sys.argv[1], Path(sys.argv[2])
value = ""
for name in ("hive-site.xml", "metastore-site.xml"):  # the metastore reads metastore-site.xml last: it wins
    if (conf / name).is_file():
        for prop in ET.parse(conf / name).getroot().iter("property"):
            if (prop.findtext("name") or "").strip() == key:
                value = (prop.findtext("value") or "").strip()
print(value)
PY
}
