// Package specs loads and validates OCI bundles, writes the default
// config.json (`myrun spec`) and builds the features document
// (`myrun features`). It speaks only runtime-spec and runtime-tools types.
//
// Every error names the offending field as
// `config.json: <field>: <problem>`, so users can fix their bundle without
// reading our code.
package specs
