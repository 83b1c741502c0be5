package contract

// Search attributes, upserted by the workflow. The namespace must have them:
// `temporal server start-dev --search-attribute BackbeatPartition=Int
// --search-attribute BackbeatTopic=Keyword --search-attribute BackbeatBacklog=Int
// --search-attribute BackbeatPaused=Bool --search-attribute BackbeatProcessed=Int`
// (see SearchAttributes), or Config.DisableSearchAttributes must be set.
const (
	SearchAttrPartition = "BackbeatPartition"
	SearchAttrTopic     = "BackbeatTopic"
	SearchAttrBacklog   = "BackbeatBacklog"
	SearchAttrPaused    = "BackbeatPaused"
	SearchAttrProcessed = "BackbeatProcessed"
)

// SearchAttributes returns the search attributes the workflow upserts, name → type as
// `temporal server start-dev --search-attribute NAME=TYPE` and
// `temporal operator search-attribute create` spell it.
func SearchAttributes() map[string]string {
	return map[string]string{
		SearchAttrPartition: "Int",
		SearchAttrTopic:     "Keyword",
		SearchAttrBacklog:   "Int",
		SearchAttrPaused:    "Bool",
		SearchAttrProcessed: "Int",
	}
}
