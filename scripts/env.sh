# Sourced by the scripts: one shared build directory outside the checkout (so
# every clone and every CI run on this machine reuses it) and the tools folder.
export MAILROOM_TOOLS=${MAILROOM_TOOLS:-$HOME/.cache/mailroom/tools}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}
export PATH="$MAILROOM_TOOLS/bin:$PATH"
