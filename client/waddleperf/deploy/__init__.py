"""Fleet deployment: the Ansible playbooks of ``ansible/`` run through ansible-runner."""
