"""End to end: the installed `kfai` against the emulated Kubeflow cluster."""

from __future__ import annotations



def trainjobs(cluster, namespace="default"):
    return cluster.store.list("trainjobs", namespace).items


def test_ask_dry_run_without_cluster(offline):
    result = offline("ask", "--dry-run", "train llama 3.2 on alpaca, 3 epochs")

    assert result.code == 0, result.stderr
    assert "kfai fine-tune meta-llama/Llama-3.2-1B-Instruct --dataset hf://tatsu-lab/alpaca --epochs 3" in result.stdout
    assert "+ TrainJob default/" in result.stdout
    assert "runtimeRef" in result.stdout
    assert "torchtune-llama3.2-1b" in result.stdout
    assert "epochs=3" in result.stdout
    assert "verdict" in result.stdout
    assert "--kubeconfig" in result.stderr


def test_ask_dry_run_json_is_one_document(offline):
    result = offline("ask", "--dry-run", "-o", "json", "train llama 3.2 on alpaca, 3 epochs")

    assert result.code == 0, result.stderr
    document = result.json()
    assert document["status"] == "preview"
    assert document["plan"]["steps"][0]["command"] == "fine-tune"
    change = document["previews"][0]["changes"][0]
    assert change["action"] == "create"
    assert change["object"]["spec"]["runtimeRef"]["name"] == "torchtune-llama3.2-1b"
    assert document["previews"][0]["preflight"]["memory"]["per_gpu_gib"] > 0


def test_ask_approved_creates_trainjob(cluster, kfai):
    result = kfai("ask", "--yes", "train llama 3.2 on alpaca, 3 epochs")

    assert result.code == 0, result.stderr
    jobs = trainjobs(cluster)
    assert len(jobs) == 1
    spec = jobs[0]["spec"]
    assert spec["runtimeRef"]["name"] == "torchtune-llama3.2-1b"
    assert spec["initializer"]["model"]["storageUri"] == "hf://meta-llama/Llama-3.2-1B-Instruct"
    assert spec["initializer"]["dataset"]["storageUri"] == "hf://tatsu-lab/alpaca"
    assert "epochs=3" in spec["trainer"]["args"]
    assert jobs[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kfai"


def test_ask_without_terminal_needs_confirmation(cluster, kfai):
    result = kfai("ask", "-o", "json", "train llama 3.2 on alpaca")

    assert result.code == 7
    document = result.json()
    assert document["status"] == "needs_confirmation"
    assert document["plan"]["steps"][0]["command"] == "fine-tune"
    assert trainjobs(cluster) == []


def test_ask_train_then_stream_logs(cluster, kfai):
    result = kfai("ask", "--yes", "train llama 3.2 1B on alpaca then stream the logs")

    assert result.code == 0, result.stderr
    jobs = trainjobs(cluster)
    assert len(jobs) == 1
    assert "loss" in result.stdout.lower()
    assert cluster.job_condition(jobs[0]["metadata"]["name"]) == "Complete"


def test_fine_tune_preview_matches_created_job(cluster, kfai):
    preview = kfai("fine-tune", "llama 3.2 3b", "--dataset", "dolly", "--epochs", "2", "--method", "lora",
                   "--name", "llama-dolly", "--dry-run", "-o", "json")
    assert preview.code == 0, preview.stderr
    expected = preview.json()["changes"][0]["object"]

    created = kfai("fine-tune", "llama 3.2 3b", "--dataset", "dolly", "--epochs", "2", "--method", "lora",
                   "--name", "llama-dolly", "--yes", "-o", "json")
    assert created.code == 0, created.stderr
    assert created.json()["job"] == "llama-dolly"
    job = cluster.store.get("trainjobs", "default", "llama-dolly")
    # The API server adds defaults (runtimeRef.apiGroup, suspend, managedBy); all else is as previewed.
    for key in ("trainer", "initializer"):
        assert job["spec"][key] == expected["spec"][key]
    assert job["spec"]["runtimeRef"]["name"] == expected["spec"]["runtimeRef"]["name"]
    assert job["metadata"]["labels"] == expected["metadata"]["labels"]


def test_fine_tune_without_yes_creates_nothing(cluster, kfai):
    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca")

    assert result.code == 7
    assert "--yes" in result.stderr
    assert trainjobs(cluster) == []


def test_jobs_lists_created_job(cluster, kfai):
    assert kfai("fine-tune", "qwen2.5 1.5b", "--dataset", "gsm8k", "--name", "qwen-gsm", "--yes").code == 0

    listed = kfai("jobs", "-o", "json")
    assert listed.code == 0, listed.stderr
    names = [job["name"] for job in listed.json()["jobs"]]
    assert names == ["qwen-gsm"]
    assert listed.json()["jobs"][0]["runtime"] == "torchtune-qwen2.5-1.5b"


def test_logs_follow_streams_until_complete(cluster, kfai):
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "follow-me", "--yes").code == 0

    result = kfai("logs", "follow-me", "-f")

    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("loss" in line.lower() for line in lines)
    assert cluster.job_condition("follow-me") == "Complete"


def test_jobs_wait_failed_job_exits_8(cluster, kfai):
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "fail-run", "--yes").code == 0

    result = kfai("jobs", "wait", "fail-run", "--timeout", "60")

    assert result.code == 8
    assert "fail-run" in result.stderr


def test_logs_follow_failed_job_exits_8(cluster, kfai):
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "fail-logs", "--yes").code == 0

    result = kfai("logs", "fail-logs", "-f")

    assert result.code == 8


def test_jobs_delete_needs_approval(cluster, kfai):
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "to-delete", "--yes").code == 0

    unapproved = kfai("jobs", "delete", "to-delete")
    assert unapproved.code == 7
    assert cluster.store.find("trainjobs", "default", "to-delete") is not None

    deleted = kfai("jobs", "delete", "to-delete", "--yes")
    assert deleted.code == 0, deleted.stderr
    assert cluster.store.find("trainjobs", "default", "to-delete") is None


def test_global_options_after_subcommand(cluster, kfai):
    result = kfai("jobs", "-n", "team-a", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json()["namespace"] == "team-a"


def test_logs_follow_waits_for_pending_pod(cluster, kfai):
    import threading

    cluster.store.hold("slow-start", "Pending")
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "slow-start", "--yes").code == 0
    cluster.wait_for(lambda: any(p["status"]["phase"] == "Pending" for p in cluster.store.pods_of("slow-start")
                                 if p["metadata"]["labels"].get("jobset.sigs.k8s.io/replicatedjob-name") == "node"), timeout=20)
    threading.Timer(3.0, lambda: cluster.store.release("slow-start")).start()

    result = kfai("logs", "slow-start", "-f")

    assert result.code == 0, result.stderr
    assert "waiting: pod" in result.stderr
    assert "Pending" in result.stderr
    assert "Training complete" in result.stdout


def test_logs_follow_survives_dropped_stream(cluster, kfai):
    cluster.store.script_logs("drops", [f"line {i}" for i in range(40)])
    cluster.store.log_stream_drop_after = 7
    assert kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "drops", "--yes").code == 0

    result = kfai("logs", "drops", "-f")

    assert result.code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(40)]
