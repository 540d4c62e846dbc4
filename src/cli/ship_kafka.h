/*
 * ship_kafka.h - `hx ship DIR --to kafka://BROKER[,BROKER...]/TOPIC` (src/cli/ship_kafka.c), the
 * Kafka half of cmd_ship.c, which parses the options and hands kafka:// destinations here.
 */
#ifndef HX_CLI_SHIP_KAFKA_H
#define HX_CLI_SHIP_KAFKA_H

/* Ship dir to the Kafka topic of url; positions in state (NULL: dir). once: exit 0 when every
 * event is delivered; else follow until SIGINT/SIGTERM, then deliver what is in flight for up to
 * 5 s. tls and token say whether the tcp-only options --tls/--ca/--token were given on the command
 * line: they are refused, since they would silently not apply. Returns the exit status
 * (HX_EXIT_*). */
int hx__ship_kafka(const char *dir, const char *url, const char *state, int once, int quiet,
                   int tls, int token);

#endif /* HX_CLI_SHIP_KAFKA_H */
