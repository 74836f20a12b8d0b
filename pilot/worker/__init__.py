"""Background work on RQ (Redis): what must not run inside a request.

`queue.enqueue` puts a job on the RQ queue when Redis answers and otherwise runs it in the calling
process (said once in the log), so a machine without Redis still works, only slower. Job functions
(`jobs`) take ids, open their own app context and stay thin: the work is in the capability's services.
The every-minute alert evaluation is registered with RQ's cron scheduler (`cron_config`).
"""
