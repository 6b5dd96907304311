# kvd on EC2: one VPC with one public subnet in one availability zone, node_count kvd nodes and
# bench_count benchmark hosts, all in one security group. Every private IP is fixed here, so the
# servers file (one ip:port line per node) is known before any instance boots and every node gets
# the same cloud-init: kvd finds its own entry as the one with its port whose address is local.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
    }
  }
}

locals {
  release_in_s3     = startswith(var.release_url, "s3://")
  node_private_ips  = [for i in range(var.node_count) : cidrhost(var.subnet_cidr, 10 + i)]
  bench_private_ips = [for i in range(var.bench_count) : cidrhost(var.subnet_cidr, -2 - i)]
  servers           = [for ip in local.node_private_ips : "${ip}:${var.kvd_port}"]
  packages          = concat(["openjdk-17-jre-headless", "curl", "ca-certificates"], local.release_in_s3 ? ["awscli"] : [])
  # kvd's options: the operator's, the cluster key (cloud-init writes it), and the Prometheus
  # endpoint on metrics_port when it is open.
  kvd_opts = join(" ", compact([var.kvd_opts, "--cluster-key-file /etc/kvd/cluster.key", "--client-admin ${var.client_admin}", var.metrics_port > 0 ? "--metrics-port ${var.metrics_port}" : ""]))

  # The variables of the two cloud-init templates (cloud-init-node.yaml.tftpl and
  # cloud-init-bench.yaml.tftpl). Every node gets the same user data.
  node_cloud_init = {
    packages    = local.packages
    servers     = local.servers
    release_url = var.release_url
    kvd_port    = var.kvd_port
    kvd_heap    = var.kvd_heap
    kvd_opts    = local.kvd_opts
    cluster_key = random_bytes.cluster_key.hex
  }
  bench_cloud_init = {
    packages    = local.packages
    servers     = local.servers
    release_url = var.release_url
    ssh_user    = var.ssh_user
    cluster_key = random_bytes.cluster_key.hex
  }

  # Where the outputs' commands run: the first bench host, else the first node.
  driver_ip = var.bench_count > 0 ? aws_instance.bench[0].public_ip : aws_instance.node[0].public_ip
}

data "aws_partition" "current" {}

# The cluster key, one per deployment (kvd --cluster-key-file): every node's internal messages
# (gossip, replication, forwarded requests, kvctl's admin requests) are tagged with it. Nodes get
# it in /etc/kvd/cluster.key (0600, owner kvd), bench hosts for kvctl as ~/cluster.key of the
# login user (0600). Like any secret terraform generates it is kept in the state, and it reaches
# the instances in their user data.
resource "random_bytes" "cluster_key" {
  length = 32
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

resource "aws_vpc" "kvd" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name}-vpc"
  }
}

resource "aws_internet_gateway" "kvd" {
  vpc_id = aws_vpc.kvd.id

  tags = {
    Name = "${var.name}-igw"
  }
}

resource "aws_subnet" "kvd" {
  vpc_id                  = aws_vpc.kvd.id
  cidr_block              = var.subnet_cidr
  availability_zone       = var.availability_zone
  map_public_ip_on_launch = true

  tags = {
    Name = "${var.name}-subnet"
  }

  lifecycle {
    precondition {
      condition     = startswith(var.availability_zone, var.region)
      error_message = "availability_zone must be a zone of region."
    }
    precondition {
      condition     = 10 + var.node_count + var.bench_count + 2 <= pow(2, 32 - tonumber(split("/", var.subnet_cidr)[1]))
      error_message = "subnet_cidr is too small for node_count nodes from host 10 on and bench_count bench hosts at its end."
    }
  }
}

resource "aws_route_table" "kvd" {
  vpc_id = aws_vpc.kvd.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.kvd.id
  }

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route_table_association" "kvd" {
  subnet_id      = aws_subnet.kvd.id
  route_table_id = aws_route_table.kvd.id
}

# One security group for nodes and bench hosts: kvd's UDP port from the group itself and from
# client_cidr, SSH (and the metrics port) from operator_cidr only.
resource "aws_security_group" "kvd" {
  name_prefix = "${var.name}-"
  description = "kvd nodes and bench hosts"
  vpc_id      = aws_vpc.kvd.id

  tags = {
    Name = "${var.name}-sg"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "kvd_from_cluster" {
  security_group_id            = aws_security_group.kvd.id
  description                  = "kvd requests, gossip and replication between members and from bench hosts"
  ip_protocol                  = "udp"
  from_port                    = var.kvd_port
  to_port                      = var.kvd_port
  referenced_security_group_id = aws_security_group.kvd.id
}

resource "aws_vpc_security_group_ingress_rule" "kvd_from_clients" {
  security_group_id = aws_security_group.kvd.id
  description       = "kvd requests from clients"
  ip_protocol       = "udp"
  from_port         = var.kvd_port
  to_port           = var.kvd_port
  cidr_ipv4         = var.client_cidr
}

resource "aws_vpc_security_group_ingress_rule" "ssh_from_operator" {
  security_group_id = aws_security_group.kvd.id
  description       = "SSH from the operator only"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = var.operator_cidr
}

resource "aws_vpc_security_group_ingress_rule" "metrics_from_operator" {
  count = var.metrics_port > 0 ? 1 : 0

  security_group_id = aws_security_group.kvd.id
  description       = "kvd Prometheus metrics from the operator only"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = var.operator_cidr
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.kvd.id
  description       = "Everything out: packages, the release, kvd's replies"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# Read access to the release object, only when release_url is an s3:// URI.
resource "aws_iam_role" "kvd" {
  count = local.release_in_s3 ? 1 : 0

  name_prefix = "${var.name}-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "release" {
  count = local.release_in_s3 ? 1 : 0

  name = "read-kvd-release"
  role = aws_iam_role.kvd[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = "arn:${data.aws_partition.current.partition}:s3:::${trimprefix(var.release_url, "s3://")}"
    }]
  })
}

resource "aws_iam_instance_profile" "kvd" {
  count = local.release_in_s3 ? 1 : 0

  name_prefix = "${var.name}-"
  role        = aws_iam_role.kvd[0].name
}

resource "aws_placement_group" "kvd" {
  count = var.placement_group ? 1 : 0

  name     = "${var.name}-cluster"
  strategy = "cluster"
}

resource "aws_instance" "node" {
  count = var.node_count

  ami                         = nonsensitive(data.aws_ssm_parameter.ami.value)
  instance_type               = var.instance_type
  key_name                    = var.ssh_key_name
  subnet_id                   = aws_subnet.kvd.id
  private_ip                  = local.node_private_ips[count.index]
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.kvd.id]
  iam_instance_profile        = local.release_in_s3 ? aws_iam_instance_profile.kvd[0].name : null
  placement_group             = var.placement_group ? aws_placement_group.kvd[0].name : null
  user_data                   = templatefile("${path.module}/cloud-init-node.yaml.tftpl", local.node_cloud_init)
  user_data_replace_on_change = true

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.root_volume_size
    encrypted   = true
  }

  tags = {
    Name = "${var.name}-node-${count.index}"
    Role = "kvd-node"
  }

  depends_on = [aws_route_table_association.kvd]

  lifecycle {
    # A newer image in the SSM parameter does not replace a running cluster.
    ignore_changes = [ami]
  }
}

resource "aws_instance" "bench" {
  count = var.bench_count

  ami                         = nonsensitive(data.aws_ssm_parameter.ami.value)
  instance_type               = var.bench_instance_type
  key_name                    = var.ssh_key_name
  subnet_id                   = aws_subnet.kvd.id
  private_ip                  = local.bench_private_ips[count.index]
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.kvd.id]
  iam_instance_profile        = local.release_in_s3 ? aws_iam_instance_profile.kvd[0].name : null
  placement_group             = var.placement_group ? aws_placement_group.kvd[0].name : null
  user_data                   = templatefile("${path.module}/cloud-init-bench.yaml.tftpl", local.bench_cloud_init)
  user_data_replace_on_change = true

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.root_volume_size
    encrypted   = true
  }

  tags = {
    Name = "${var.name}-bench-${count.index}"
    Role = "kvd-bench"
  }

  depends_on = [aws_route_table_association.kvd]

  lifecycle {
    ignore_changes = [ami]
  }
}
