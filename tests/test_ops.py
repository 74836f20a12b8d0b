def test_health_ready_and_metrics(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json()["database"] == "ok"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and b"python_info" in metrics.data or b"process_" in metrics.data
