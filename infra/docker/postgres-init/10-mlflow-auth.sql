-- MLflow's authentication database (users, permissions), next to its backend store `mlflow`.
-- Run by the postgres image on first start (docker-compose.prod.yml mounts this folder).
CREATE DATABASE mlflow_auth;
