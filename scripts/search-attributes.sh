# Search attributes of the partition workflows (workflows.SearchAttributes()), NAME=TYPE.
# The one list of the scripts: sourced by scripts/temporal.sh (dev server) and
# scripts/temporal-postgres.sh (server on PostgreSQL). docker-compose.yml's temporal-init
# repeats it; deploy/compose_test.go checks all three against the code.
# shellcheck disable=SC2034
SEARCH_ATTRIBUTES=(BackbeatPartition=Int BackbeatTopic=Keyword BackbeatBacklog=Int BackbeatPaused=Bool BackbeatProcessed=Int)
