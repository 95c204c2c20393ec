"""Anomaly detection and resonance search (docs/design.md): the bump-hunt fit and significance
(`bumpfit`), CWoLa hunting (`cwola`), idealised AD (`iad`), autoencoder scores
(`autoencoder`), their inputs (`inputs`), figures (`plots`) and the command runs (`run`)."""
