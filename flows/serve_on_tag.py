"""A served deployment that runs whenever a churn model gets the ``prod`` tag.

``flow.serve`` registers the deployment and runs its flow runs in this process. Its trigger
is the ``prefect-artifacts.tag.moved`` event, sent once for every way the tag can move
(``log_model(..., tag="prod")``, ``pa.tag_artifact``, ``pa.best(..., tag="prod")``, the CLI's
``tag``, the UI); the event's payload names the version the tag left (``previous``).

    python flows/serve_on_tag.py          # serves until interrupted
    prefect-artifacts tag churn-model:2 prod   # elsewhere: a run starts
"""

from __future__ import annotations

from prefect import flow
from prefect.events import DeploymentEventTrigger

import prefect_artifacts as pa

ON_PROD = DeploymentEventTrigger(
    expect={"prefect-artifacts.tag.moved"},
    match={
        "prefect.resource.id": "prefect-artifacts.artifact.default.churn-model.*",
        "prefect-artifacts.tag": "prod",
    },
    parameters={"version": "{{ event.payload.version }}"},
)


@flow(name="announce-prod-model")
def announce(version: int = 0) -> str:
    model = pa.get_artifact("churn-model@prod")
    note = f"churn-model:{model.version} is prod (the event said {version})"
    pa.log_artifact("prod-announcement", note.encode(), labels={"model": str(model.version)})
    return note


if __name__ == "__main__":
    announce.serve(name="on-prod", triggers=[ON_PROD])
