# Runs a Hadoop class the way Hadoop's own bin/ scripts do; sourced by bin/hdfs and bin/hadoop.
# The image carries Hadoop as Maven Central publishes it (jars, no release tarball), so this stands in for
# libexec/hadoop-functions.sh, honouring what kemr's pods rely on: HADOOP_CONF_DIR first on the classpath
# (core-site.xml, hdfs-site.xml, log4j.properties), HADOOP_HEAPSIZE_MAX, HADOOP_LOG_DIR, HADOOP_OPTS and the
# per-daemon HDFS_<DAEMON>_OPTS, HADOOP_CLASSPATH appended, hadoop-env.sh sourced when the conf has one.
# shellcheck shell=bash

HADOOP_HOME=${HADOOP_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export HADOOP_HOME
export HADOOP_CONF_DIR=${HADOOP_CONF_DIR:-$HADOOP_HOME/etc/hadoop}
if [ -f "$HADOOP_CONF_DIR/hadoop-env.sh" ]; then
  # shellcheck disable=SC1091
  . "$HADOOP_CONF_DIR/hadoop-env.sh"
fi
export HADOOP_LOG_DIR=${HADOOP_LOG_DIR:-/tmp/logs/hadoop}

hadoop_java() {
  if [ -n "${JAVA_HOME:-}" ]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || { echo "hadoop: JAVA_HOME is not set and no java on PATH" >&2; exit 1; }
  fi
}

# share/hadoop/hdfs holds webapps/ (the web UIs are looked up on the classpath); common/lib every jar.
hadoop_classpath() {
  local cp="$HADOOP_CONF_DIR:$HADOOP_HOME/share/hadoop/hdfs:$HADOOP_HOME/share/hadoop/common/lib/*"
  if [ -n "${HADOOP_CLASSPATH:-}" ]; then
    cp="$cp:$HADOOP_CLASSPATH"
  fi
  echo "$cp"
}

# HADOOP_HEAPSIZE_MAX as Hadoop reads it: a bare number is MiB, else a JVM size (512m, 2g).
hadoop_heap_opt() {
  local heap=${HADOOP_HEAPSIZE_MAX:-${HADOOP_HEAPSIZE:-}}
  [ -z "$heap" ] && return 0
  case "$heap" in
    *[!0-9]*) echo "-Xmx$heap" ;;
    *) echo "-Xmx${heap}m" ;;
  esac
}

# Java 17 closes the JDK internals Hadoop 3.3 reflects on (as Spark's launcher opens them for Spark).
HADOOP_JAVA17_OPTS="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED"

# hadoop_exec NAME CLASS [ARGS...]: exec the class in the foreground; NAME tags the log file and picks the
# daemon's own *_OPTS variable.
hadoop_exec() {
  local name=$1 class=$2
  shift 2
  local daemon_opts_var
  daemon_opts_var="HDFS_$(echo "$name" | tr '[:lower:]' '[:upper:]')_OPTS"
  # shellcheck disable=SC2046,SC2086  # the *_OPTS variables and the heap option are word lists (Hadoop's convention)
  exec "$(hadoop_java)" \
    $(hadoop_heap_opt) $HADOOP_JAVA17_OPTS \
    -Dproc_"$name" \
    -Djava.net.preferIPv4Stack=true \
    -Dhadoop.home.dir="$HADOOP_HOME" \
    -Dhadoop.log.dir="$HADOOP_LOG_DIR" \
    -Dhadoop.log.file="hadoop-${name}.log" \
    -Dhadoop.id.str="$(id -un 2>/dev/null || id -u)" \
    -Dhadoop.root.logger="${HADOOP_ROOT_LOGGER:-INFO,console}" \
    -Dhadoop.policy.file=hadoop-policy.xml \
    -Dhadoop.security.logger="${HADOOP_SECURITY_LOGGER:-INFO,NullAppender}" \
    ${HADOOP_OPTS:-} ${!daemon_opts_var:-} \
    -cp "$(hadoop_classpath)" "$class" "$@"
}
