#!/bin/sh
# Start command of the Conductor image. Runs in the project folder (WORKDIR, /app/project in the image).
#
#   (no argument, or options)  train the model if none exists and TRAIN_IF_MISSING=1, then serve it;
#                              options (e.g. --enable-api) are passed on to `bot run`
#   train [options]            bot train [options]
#   shell [options]            bot shell [options]
#   validate [options]         bot data validate [options]
#
# Settings (environment): PORT (5005), MODELS_DIR (models), BOT_ENDPOINTS (endpoints.yml),
# BOT_CREDENTIALS (credentials.yml), TRAIN_IF_MISSING (1).
set -eu

models_dir="${MODELS_DIR:-models}"

case "${1:-}" in
    train|shell)
        command="$1"
        shift
        exec bot "$command" "$@"
        ;;
    validate)
        shift
        exec bot data validate "$@"
        ;;
esac

has_model() {
    [ -d "$models_dir" ] && [ -n "$(ls -A "$models_dir" 2>/dev/null)" ]
}

if ! has_model; then
    if [ "${TRAIN_IF_MISSING:-1}" = "1" ]; then
        echo "entrypoint: no model in $models_dir; training one (set TRAIN_IF_MISSING=0 to refuse)" >&2
        bot train --out "$models_dir"
    else
        echo "entrypoint: no model in $models_dir and TRAIN_IF_MISSING is not 1." >&2
        echo "  Mount a trained model there, or set TRAIN_IF_MISSING=1 to train at start-up." >&2
        exit 1
    fi
fi

# exec: the server becomes this process, so `docker stop` (SIGTERM) reaches it directly.
exec bot run \
    --model "$models_dir" \
    --port "${PORT:-5005}" \
    --interface 0.0.0.0 \
    --endpoints "${BOT_ENDPOINTS:-endpoints.yml}" \
    --credentials "${BOT_CREDENTIALS:-credentials.yml}" \
    "$@"
