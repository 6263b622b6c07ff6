"""Listing TrainJobs: the SDK's status rules, in a constant number of requests."""

from __future__ import annotations

from collections import Counter

from kfctl_ai.core.cluster import Cluster
from kfctl_ai.core.jobs import list_jobs


def test_two_thousand_jobs_in_two_requests(cluster):
    cluster.seed_trainjobs(2000, phase="mixed")
    client = Cluster(kubeconfig=str(cluster.kubeconfig))
    cluster.store.clear_requests()

    jobs = list_jobs(client)

    assert len(jobs) == 2000
    assert len(cluster.store.requests) <= 3
    assert Counter(job.status for job in jobs) == {"Created": 500, "Running": 500, "Complete": 500, "Failed": 500}


def test_status_filter(cluster):
    cluster.seed_trainjobs(8, phase="mixed")
    client = Cluster(kubeconfig=str(cluster.kubeconfig))

    failed = list_jobs(client, "Failed")

    assert len(failed) == 2
    assert {job.status for job in failed} == {"Failed"}


def test_listing_agrees_with_sdk(cluster):
    cluster.seed_trainjobs(12, phase="mixed")
    client = Cluster(kubeconfig=str(cluster.kubeconfig))

    ours = {job.name: job.status for job in list_jobs(client)}
    sdk = {job.name: job.status for job in client.trainer.list_jobs()}

    assert ours == sdk
