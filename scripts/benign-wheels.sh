# Shared by scripts/benign-multilingual and scripts/benign-trigger-lines (sourced,
# not run): the pinned wheels both read their benign texts from, and the scoring
# of the sets they build on both surfaces.
#
# The wheels (Django and Sphinx are BSD-licensed, spaCy MIT) are downloaded from
# PyPI into .peers/external on the first run and never copied into the repository.

# Downloads the pinned wheels into $cache unless they are there already.
benign_wheels_fetch() {
  mkdir -p "$cache"
  if ! ls "$cache"/[Dd]jango-5.1.4-*.whl "$cache"/sphinx-8.1.3-*.whl "$cache"/spacy-3.8.2-*.whl \
    > /dev/null 2>&1; then
    "$python" -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux2014_x86_64 -d "$cache" \
      django==5.1.4 sphinx==8.1.3 spacy==3.8.2
  fi
}

# Scores $sets/as_result (tool results) and $sets/as_argument (tool-call
# arguments) with the shipped packs and weights; rows that fire go to $dump.
# $1 names the script in its last line.
benign_sets_score() {
  cargo build --release --locked --quiet
  local bin=${CARGO_TARGET_DIR:-target}/release/portcullis
  local surface
  for surface in as_result as_argument; do
    echo "== scored $surface (kind $( [ $surface = as_result ] && echo indirect || echo direct ))"
    mkdir -p "$dump/$surface"
    "$bin" scan eval "$sets/$surface" --dump "$dump/$surface"
  done
  echo "$1: rows that fired are in $dump"
}
