#!/bin/sh
# The docker-compose Kafka, secured as infra/kafka/broker.mjs secures the development broker
# (contract 3, "Kafka is not an open door"): SASL/SCRAM-SHA-512 for every client, the SCRAM users
# created when the storage is first formatted, StandardAuthorizer with no access without an ACL,
# `admin` the only super user. The ACLs themselves are created by the init job
# (`node infra/kafka/broker.mjs topics`, as admin).
set -eu
for v in KAFKA_ADMIN_PASSWORD KAFKA_GATEWAY_PASSWORD KAFKA_INGEST_PASSWORD KAFKA_LEDGER_PASSWORD KAFKA_PARTNER_PASSWORD; do
  eval "value=\${$v:-}"
  case "$value" in
    "" ) echo "compose-broker: set $v (16+ characters of A-Z a-z 0-9 _ -)" >&2; exit 2 ;;
    *[!A-Za-z0-9_-]* ) echo "compose-broker: $v may only hold A-Z a-z 0-9 _ -" >&2; exit 2 ;;
  esac
done

CONF=/tmp/server.properties
cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://localhost:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD" user_admin="$KAFKA_ADMIN_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
log.dirs=/var/lib/kafka/data
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=12
PROPS

# For the healthcheck: a client config as admin.
cat > /tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
PROPS

# --ignore-formatted: the users are created by the first format only; later password changes are
# rotations (README, "Security"), done with kafka-configs against the running broker.
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "${KAFKA_CLUSTER_ID:-4L6g3nShT-eMCtK--X86sw}" -c "$CONF" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=gateway,password=$KAFKA_GATEWAY_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=ingest,password=$KAFKA_INGEST_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=ledger,password=$KAFKA_LEDGER_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=partner,password=$KAFKA_PARTNER_PASSWORD]"
exec /opt/kafka/bin/kafka-server-start.sh "$CONF"
