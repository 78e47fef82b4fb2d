// Package query runs a view of the lake, or any SQL, on the local lake
// (DuckDB over the Parquet files, see glue/lake) or on Amazon Athena, and
// prints the result as an aligned table, CSV or JSON. Both engines return a
// Result of text cells, so that the printed forms match whichever engine ran
// the query.
package query
